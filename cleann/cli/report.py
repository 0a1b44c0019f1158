"""`cleann report RUN_ID -o report.html`: one self-contained HTML file for an evaluated run."""
from __future__ import annotations

import argparse
import os

from cleann.cli._checks import check_db_readable, check_output_file, nonnegative_int
from cleann.errors import BadInputError, shorten


def register(subparsers) -> None:
    p = subparsers.add_parser("report", help="write the evaluation report of a run as one offline HTML file")
    p.add_argument("run_id", help="run id printed by `cleann evaluate` / `cleann explain`")
    p.add_argument("-o", "--output", default="report.html", help="output file (default report.html)")
    p.add_argument("--db", help="DuckDB file (default $CLEANN_DB or ./cleann.duckdb)")
    p.add_argument("--samples", type=nonnegative_int, default=6,
                   help="samples shown in the per-sample view (default 6)")
    p.add_argument("--force", action="store_true", help="replace the output file if it exists")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from cleann.config import default_db_path

    if not args.run_id.strip() or len(args.run_id) > 200:
        raise BadInputError(f"run id {shorten(args.run_id, 80)!r}: not a run id")
    output = check_output_file(args.output, "-o")
    if output.exists() and not args.force:
        raise BadInputError(f"-o {shorten(output, 120)}: exists (pass --force to replace it)")
    check_db_readable(args.db or default_db_path())
    from cleann.report import write_report

    try:
        path = write_report(args.run_id, output, args.db, args.samples)
    except OSError as exc:  # e.g. the disk filled up while writing
        if output.is_file() and output.stat().st_size == 0:
            os.unlink(output)
        raise BadInputError(f"-o {output}: could not write the report "
                            f"({exc.strerror or exc})") from None
    print(f"wrote {path}")
    return 0
