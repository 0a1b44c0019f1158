"""`cleann retry RUN_ID`: re-run only the failed samples of a run, same parameters and model."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("retry", help="re-run the failed samples of an explanation run")
    p.add_argument("run_id")
    p.add_argument("--db", help="DuckDB file (default $CLEANN_DB or ./cleann.duckdb)")
    p.add_argument("--runner", choices=["threads", "processes", "dask"], default="threads")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--no-prefect", action="store_true", help="run in this process without Prefect")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from cleann.pipeline.cli_args import run_explain
    from cleann.pipeline.report import print_summary
    from cleann.pipeline.retry import retry_kwargs

    kwargs = retry_kwargs(args.run_id, args.db, runner=args.runner, batch_size=args.batch_size)
    summary = run_explain(kwargs, use_prefect=not args.no_prefect)
    print_summary(summary, args.db)
    return 0
