"""Flow `evaluate_corpus`: explain a corpus slice with CLEANN, then score it against baselines.

Why a CLEANN run first: the pipeline's `explain_corpus` (a subflow here) produces and
stores CLEANN's sets, graphs and costs; re-running with the same parameters resumes the
same run, so evaluating twice does not explain twice. The evaluation then maps
`evaluate_batch` over the chosen task runner and, as the single loader, loads each
staged batch as it completes (metrics, token_scores, baseline explanations).
"""
from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.futures import as_completed

from cleann.config import default_db_path
from cleann.flows.explain import explain_corpus
from cleann.metrics.driver import finish_evaluation
from cleann.metrics.load import load_ready_eval
from cleann.metrics.plan import plan_evaluation
from cleann.metrics.settings import EvalSettings
from cleann.pipeline.runners import make_task_runner
from cleann.pipeline.staging import Staging
from cleann.tasks.evaluate import evaluate_batch_task


@flow(name="evaluate_batches", log_prints=False)
def evaluate_batches(db_path: str, staging_root: str, run_id: str, batch_ids: list[str], params_json: str,
                     model_path: str, settings_json: str) -> int:
    """Submit every batch, load each as it completes; returns the number of failed batches."""
    staging = Staging(staging_root, run_id)
    futures = [evaluate_batch_task.submit(staging_root, run_id, b, params_json, model_path, settings_json)
               for b in batch_ids]
    failed = 0
    for fut in as_completed(futures):
        try:
            fut.result()
        except Exception as exc:  # noqa: BLE001 - a re-run resumes the batch
            failed += 1
            get_run_logger().warning("evaluation batch failed, left for the next run: %s", exc)
        load_ready_eval(db_path, staging)
    return failed


@flow(name="evaluate_corpus", log_prints=False)
def evaluate_corpus(explain: dict, explainers: list[str], limit: int | None = None, n_steps: int = 50,
                    shap_max_evals: int = 500, max_k: int | None = None, batch_size: int = 8,
                    runner: str = "threads", workers: int | None = None, command: str | None = None) -> dict:
    """``explain``: `explain_corpus` keyword arguments. Returns the run id and the summary rows."""
    summary = explain_corpus(**{**explain, "limit": limit})
    run_id = summary["run_id"]
    db_path = str(explain.get("db") or default_db_path())
    settings = EvalSettings(explainers=tuple(explainers), n_steps=n_steps, shap_max_evals=shap_max_evals,
                            max_k=max_k)
    plan = plan_evaluation(db_path, run_id, settings, limit, batch_size, explain.get("staging_dir"), command)
    failed = 0
    if plan.batch_ids:
        inner = evaluate_batches.with_options(task_runner=make_task_runner(runner, None, workers))
        failed = inner(plan.db_path, plan.staging_root, plan.run_id, plan.batch_ids, plan.params_json,
                       plan.model_path, plan.settings_json)
    table = finish_evaluation(plan)
    return {"run_id": run_id, "failed_batches": failed, "explain": summary,
            "summary": table.to_dict(orient="records")}
