"""`cleann query NAME [--run RUN_ID] [--format table|csv|json]` and `cleann query --list`.

Opens the database read-only and waits briefly if the pipeline's loader holds it.
"""
from __future__ import annotations

import argparse

from cleann.errors import BadInputError


def register(subparsers) -> None:
    p = subparsers.add_parser("query", help="run a named analysis query (sql/queries/*.sql)")
    p.add_argument("name", nargs="?", help="query name (see --list)")
    p.add_argument("--list", action="store_true", help="list the named queries")
    p.add_argument("--run", help="run id (default: the latest run of the query's kind)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="query parameter, repeatable")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--db", help="DuckDB file (default $CLEANN_DB or ./cleann.duckdb)")
    p.add_argument("--wait", type=float, default=10.0, help="seconds to wait while a writer holds the db")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from cleann.pipeline.queries import list_queries, parse_param, run_query
    from cleann.pipeline.report import format_frame

    if args.list or not args.name:
        for q in list_queries().values():
            print(f"{q.name:22s} [{q.kind}] {q.description}")
            if q.params and q.params != "none":
                print(f"{'':22s} params: {q.params}")
        return 0
    params = {}
    for item in args.param:
        key, sep, val = item.partition("=")
        if not sep:
            raise BadInputError(f"--param {item!r}: use KEY=VALUE")
        params[key.strip()] = parse_param(key.strip(), val.strip())
    frame = run_query(args.name, args.db, args.run, params, wait_s=args.wait)
    print(format_frame(frame, args.format))
    return 0
