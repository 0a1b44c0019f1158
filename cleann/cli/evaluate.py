"""`cleann evaluate imdb|movielens ...`: CLEANN vs baselines on a corpus slice, into DuckDB."""
from __future__ import annotations

import argparse
import shlex
import sys

from cleann.baselines.registry import DEFAULT_EXPLAINERS, parse_explainers
from cleann.pipeline.cli_args import add_explain_options, flow_kwargs


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="compare CLEANN with baselines (Prefect flow evaluate_corpus)",
        description="Explain a corpus slice with CLEANN (resuming the same run), run the baselines on the "
                    "same samples, and store per-sample metrics; then `cleann report RUN_ID`.")
    add_explain_options(p)
    p.add_argument("--explainers", default=",".join(DEFAULT_EXPLAINERS),
                   help="comma list of cleann, attention, attention_heads, rollout, gxi, ig, shap "
                        "(default %(default)s; shap: text only, needs the eval extra)")
    p.add_argument("--n-steps", type=int, default=50, help="integrated-gradients steps (default 50)")
    p.add_argument("--shap-max-evals", type=int, default=500, help="SHAP Partition budget per sample")
    p.add_argument("--max-k", type=int, help="tokens-to-flip budget for rankings (default: --max-set-size, "
                                             "CLEANN's search budget, so both get the same budget; else all)")
    p.add_argument("--markdown", action="store_true", help="print the summary as a Markdown table")
    p.add_argument("--no-prefect", action="store_true", help="run the same steps in this process")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from cleann.metrics.report_text import format_summary

    explainers = list(parse_explainers(args.explainers, args.kind))
    if "shap" in explainers:
        from cleann.baselines.shap_partition import require_shap

        require_shap()
    explain = flow_kwargs(args)
    command = "cleann " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    options = dict(explainers=explainers, limit=args.limit, n_steps=args.n_steps,
                   shap_max_evals=args.shap_max_evals,
                   max_k=args.max_k if args.max_k is not None else args.max_set_size, batch_size=args.batch_size,
                   command=command)
    if args.no_prefect:
        result = _run_local(explain, **options)
    else:
        from cleann.flows.evaluate import evaluate_corpus

        result = evaluate_corpus(explain=explain, runner=args.runner, workers=args.workers, **options)
    print(f"run {result['run_id']}")
    print(format_summary(result["summary"], markdown=args.markdown))
    from cleann.config import default_db_path
    from cleann.metrics.driver import paired_table
    from cleann.metrics.report_text import format_paired

    paired = paired_table(args.db or default_db_path(), result["run_id"])
    if len(paired):
        print("\nexplanation size on the samples where both found one:")
        print(format_paired(paired.to_dict(orient="records"), markdown=args.markdown))
    print(f"report: cleann report {result['run_id']} -o report.html" + (f" --db {args.db}" if args.db else ""))
    return 0


def _run_local(explain: dict, explainers, limit, n_steps, shap_max_evals, max_k, batch_size, command) -> dict:
    from cleann.config import default_db_path
    from cleann.metrics.driver import run_evaluation_local
    from cleann.metrics.settings import EvalSettings
    from cleann.pipeline.driver import run_from_kwargs

    summary = run_from_kwargs({**explain, "limit": limit}).as_dict()
    settings = EvalSettings(explainers=tuple(explainers), n_steps=n_steps, shap_max_evals=shap_max_evals,
                            max_k=max_k)
    table = run_evaluation_local(explain.get("db") or default_db_path(), summary["run_id"], settings, limit,
                                 batch_size, explain.get("staging_dir"), command)
    return {"run_id": summary["run_id"], "summary": table.to_dict(orient="records")}
