"""`cleann sql "SELECT ..."`: ad-hoc read-only queries against the cleann database.

The connection is DuckDB-sandboxed (see docs/security.md): it reads the database file and
nothing else. While a run writes, it waits for the writer (``--wait``, default 60 s). A
query is stopped by Ctrl-C (exit 130) and by ``--timeout`` (default 60 s, exit 1), both
through DuckDB's own ``interrupt()``, and held to ``--memory-limit`` (DuckDB's setting).
"""
from __future__ import annotations

import argparse
import os
import sys

from cleann.cli._exit import QUERY_EPILOG, add_exit_codes
from cleann.cli._interrupt import add_query_limits, check_query_limits, guarded
from cleann.cli._output import add_format_option, format_frame
from cleann.errors import BadInputError
from cleann.store.readonly import DEFAULT_WAIT_S, query


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sql", help="run a read-only SQL query against the database",
        description="Run SELECT/EXPLAIN/PRAGMA statements on a read-only connection; "
                    "writes are refused.")
    parser.add_argument("statement", help='SQL text, e.g. "SELECT corpus, count(*) FROM documents GROUP BY 1"')
    parser.add_argument("--db", default=None, help="database file (default ./cleann.duckdb or $CLEANN_DB)")
    add_format_option(parser)
    parser.add_argument("--max-rows", type=int, default=200,
                        help="rows shown in table format (default 200; 0 = all)")
    parser.add_argument("--wait", type=float, default=DEFAULT_WAIT_S, metavar="SECONDS",
                        help=f"seconds to wait while a run writes the database (default {DEFAULT_WAIT_S:g})")
    add_query_limits(parser)
    add_exit_codes(parser, QUERY_EPILOG)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.max_rows < 0:
        raise BadInputError(f"--max-rows {args.max_rows}: use 0 (all rows) or a positive number")
    if not args.wait >= 0 or args.wait == float("inf"):  # also refuses nan
        raise BadInputError(f"--wait {args.wait:g}: use a number of seconds, 0 or more")
    check_query_limits(args)
    frames = guarded(args, lambda on_connect: query(args.statement, args.db, wait_s=args.wait,
                                                    memory_limit=args.memory_limit, on_connect=on_connect))
    try:
        texts = [format_frame(frame, args.format, args.max_rows, more="; use --max-rows 0 for all") for frame in frames]
        if args.format == "json" and len(texts) > 1:  # still one document: an array per statement
            texts = ["[" + ",".join(texts) + "]"]
        for text in texts:
            print(text)
        sys.stdout.flush()
    except BrokenPipeError:  # output piped into `head`: not an error
        sys.stdout = open(os.devnull, "w")
    return 0
