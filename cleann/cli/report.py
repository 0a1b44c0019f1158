"""`cleann report RUN_ID -o report.html`: one self-contained HTML file for an evaluated run."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("report", help="write the evaluation report of a run as one offline HTML file")
    p.add_argument("run_id", help="run id printed by `cleann evaluate` / `cleann explain`")
    p.add_argument("-o", "--output", default="report.html", help="output file (default report.html)")
    p.add_argument("--db", help="DuckDB file (default $CLEANN_DB or ./cleann.duckdb)")
    p.add_argument("--samples", type=int, default=6, help="samples shown in the per-sample view (default 6)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from cleann.report import write_report

    path = write_report(args.run_id, args.output, args.db, args.samples)
    print(f"wrote {path}")
    return 0
