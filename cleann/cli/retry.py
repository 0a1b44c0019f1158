"""`cleann retry RUN_ID`: re-run only the failed samples of a run, same parameters and model."""
from __future__ import annotations

import argparse

from cleann.cli._exit import add_exit_codes, code_for_status
from cleann.cli._output import add_format_option
from cleann.pipeline.params import ExecParams, add_options


def register(subparsers) -> None:
    p = subparsers.add_parser("retry", help="re-run the failed samples of an explanation run")
    p.add_argument("run_id")
    add_options(p, ExecParams, skip=("limit", "model", "store_attention"))
    add_format_option(p)
    p.add_argument("--no-prefect", action="store_true", help="run in this process without Prefect")
    add_exit_codes(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from cleann.cli._interrupt import stop_job_on_interrupt
    from cleann.cli._jobs import format_summary, run_explain_kwargs
    from cleann.pipeline.params import from_mapping
    from cleann.pipeline.retry import retry_kwargs

    options = {k: v for k, v in vars(args).items() if k not in ("run_id", "handler", "command", "format",
                                                                  "no_prefect")}
    from_mapping(ExecParams, options)  # a mistake in the options is reported before the run is looked up
    kwargs = retry_kwargs(args.run_id, options.pop("db", None), **options)
    with stop_job_on_interrupt(kwargs.get("db")):
        summary = run_explain_kwargs(kwargs, use_prefect=not args.no_prefect,
                                     progress_to_stderr=args.format != "table")
    print(format_summary(summary, args.format))
    return code_for_status(summary["status"])
