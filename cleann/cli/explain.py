"""`cleann explain imdb|movielens ...`: explain a corpus slice into DuckDB, print the run."""
from __future__ import annotations

import argparse

from cleann.cli._exit import add_exit_codes, code_for_status
from cleann.cli._output import add_format_option
from cleann.pipeline.params import add_explain_options, params_from_args


def register(subparsers) -> None:
    p = subparsers.add_parser("explain", help="explain a corpus with CLEANN (Prefect flow explain_corpus)",
                              description="Explain every pending sample of a corpus slice; re-running the same "
                                          "parameters resumes the same run.")
    add_explain_options(p)
    add_format_option(p)
    p.add_argument("--no-prefect", action="store_true", help="run the same steps in this process without Prefect")
    add_exit_codes(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from cleann.cli._interrupt import stop_job_on_interrupt
    from cleann.cli._jobs import format_summary, run_explain

    params, execution = params_from_args(args)
    with stop_job_on_interrupt(execution.db):
        summary = run_explain(params, execution, use_prefect=not args.no_prefect,
                              progress_to_stderr=args.format != "table")
    print(format_summary(summary, args.format))
    return code_for_status(summary["status"])
