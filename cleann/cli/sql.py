"""`cleann sql "SELECT ..."`: ad-hoc read-only queries against the cleann database."""
from __future__ import annotations

import argparse
import os
import sys

import pandas as pd

from cleann.store.readonly import query


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sql", help="run a read-only SQL query against the database",
        description="Run SELECT/EXPLAIN/PRAGMA statements on a read-only connection; "
                    "writes are refused.")
    parser.add_argument("statement", help='SQL text, e.g. "SELECT corpus, count(*) FROM documents GROUP BY 1"')
    parser.add_argument("--db", default=None, help="database file (default ./cleann.duckdb or $CLEANN_DB)")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument("--max-rows", type=int, default=200,
                        help="rows shown in table format (default 200; 0 = all)")
    parser.set_defaults(handler=run)


def format_frame(frame: pd.DataFrame, fmt: str, max_rows: int = 0) -> str:
    """Render a result: aligned text table, CSV, or a JSON array of records."""
    if fmt == "csv":
        return frame.to_csv(index=False).rstrip("\n")
    if fmt == "json":
        return frame.to_json(orient="records", date_format="iso", force_ascii=False)
    if frame.empty:
        return f"(0 rows; columns: {', '.join(map(str, frame.columns))})"
    shown = frame if not max_rows or len(frame) <= max_rows else frame.head(max_rows)
    text = shown.to_string(index=False, max_colwidth=80)
    if len(shown) < len(frame):
        text += f"\n... ({len(frame):,} rows, first {max_rows} shown; use --max-rows 0 for all)"
    return text


def run(args: argparse.Namespace) -> int:
    frames = query(args.statement, args.db)
    try:
        for frame in frames:
            print(format_frame(frame, args.format, args.max_rows))
        sys.stdout.flush()
    except BrokenPipeError:  # output piped into `head`: not an error
        sys.stdout = open(os.devnull, "w")
    return 0
