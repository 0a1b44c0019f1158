"""`cleann export RUN_ID -o DIR [--force]`: a run's rows as Parquet files plus a manifest.

Why a command of its own: `cleann sql` is sandboxed (no file access), so this is how a run
reaches pandas, a notebook or another DuckDB; it writes only the files it names in DIR.
"""
from __future__ import annotations

import argparse

from cleann.cli._checks import seconds
from cleann.cli._output import add_format_option, render


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="write a run's rows as Parquet files (samples, tokens, words, ...)")
    p.add_argument("run_id", help="run id (`cleann query runs` lists them)")
    p.add_argument("-o", "--output", required=True, help="output folder (created; must be empty unless --force)")
    p.add_argument("--force", action="store_true", help="write into a non-empty folder (replaces our files)")
    p.add_argument("--db", help="DuckDB file (default $CLEANN_DB or ./cleann.duckdb)")
    p.add_argument("--wait", type=seconds, default=10.0, help="seconds to wait while a writer holds the db")
    add_format_option(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from cleann.export import MANIFEST, export_run

    tables = export_run(args.run_id, args.output, args.db, force=args.force, wait_s=args.wait)
    rows = [{"table": t.name, "file": t.file, "rows": t.rows, "checksum": t.checksum} for t in tables]
    lines = [f"{t.file:28s} {t.rows:>10,d} rows" for t in tables]
    lines.append(f"wrote {len(tables)} tables and {MANIFEST} to {args.output}")
    print(render(args.format, rows, table="\n".join(lines)))
    return 0
