"""`cleann evaluate imdb|movielens ...`: CLEANN vs baselines on a corpus slice, into DuckDB."""
from __future__ import annotations

import argparse
import json
import shlex
import sys

from cleann.cli._exit import add_exit_codes, evaluate_code
from cleann.cli._output import add_format_option
from cleann.metrics.settings import EvalSettings, known_explainers, parse_explainers
from cleann.pipeline.params import add_explain_options, add_options, from_mapping, params_from_args


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="compare CLEANN with baselines (Prefect flow evaluate_corpus)",
        description="Explain a corpus slice with CLEANN (resuming the same run), run the baselines on the "
                    "same samples, and store per-sample metrics; then `cleann report RUN_ID`. The ranking "
                    "explainers get CLEANN's budget: --max-set-size tokens to flip.")
    add_explain_options(p)
    p.add_argument("--explainers", default=None,
                   help=f"comma list of {', '.join(known_explainers())} (default: all that explain the "
                        "corpus kind; shap: text only, needs the eval extra; oracle: exhaustive smallest set)")
    add_options(p, EvalSettings, title="evaluation (baselines and oracle)")
    add_format_option(p, extra=("markdown",))
    p.add_argument("--no-prefect", action="store_true", help="run the same steps in this process")
    add_exit_codes(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import pandas as pd

    from cleann.cli._interrupt import stop_job_on_interrupt
    from cleann.cli._jobs import run_evaluate

    params, execution = params_from_args(args)
    explainers = tuple(parse_explainers(args.explainers, params.corpus_kind))
    if "shap" in explainers:
        from cleann.explainers.shap import require_shap

        require_shap()
    settings = from_mapping(EvalSettings, {**vars(args), "explainers": explainers, "max_k": params.max_set_size})
    command = "cleann " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    with stop_job_on_interrupt(execution.db):
        result = run_evaluate(params, execution, settings, command, use_prefect=not args.no_prefect)

    from cleann.config import default_db_path
    from cleann.metrics.evaluate import paired_table

    paired = paired_table(execution.db or default_db_path(), result["run_id"])
    if args.format in ("csv", "json"):
        frame = pd.DataFrame(result["summary"]).assign(run_id=result["run_id"])
        print(frame.to_csv(index=False).rstrip("\n") if args.format == "csv"
              else json.dumps({"run_id": result["run_id"], "summary": frame.to_dict(orient="records"),
                               "paired_sizes": paired.to_dict(orient="records")}, default=str))
        return evaluate_code(result)
    from cleann.metrics.report_text import format_paired, format_summary

    markdown = args.format == "markdown"
    print(f"run {result['run_id']}")
    print(format_summary(result["summary"], markdown=markdown))
    if len(paired):
        print("\nexplanation size on the samples where both found one:")
        print(format_paired(paired.to_dict(orient="records"), markdown=markdown))
    db = f" --db {execution.db}" if execution.db else ""
    print(f"report: cleann report {result['run_id']} -o report.html{db}")
    return evaluate_code(result)
