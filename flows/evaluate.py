"""Flow `evaluate_corpus`: explain a corpus slice with CLEANN, then score it against baselines.

Why a CLEANN run first: `explain_corpus` (a subflow here) produces and stores CLEANN's
sets, graphs and costs; the same parameters resume the same run, so evaluating twice
does not explain twice. The evaluation is then the same staged job shape (plan task,
work + load per batch, finish task) with its own steps and table policy.
"""
from __future__ import annotations

import time

from prefect import flow, get_run_logger

from cleann.config import default_db_path
from cleann.flows.explain import explain_corpus
from cleann.flows.job import run_batches
from cleann.metrics.settings import EvalSettings
from cleann.pipeline.params import ExecParams, ExplainParams
from cleann.tasks.job import finish_job, plan_evaluate


@flow(name="evaluate_corpus", log_prints=False)
def evaluate_corpus(settings: EvalSettings, params: ExplainParams = ExplainParams(),
                    execution: ExecParams = ExecParams(), command: str | None = None) -> dict:
    """Returns the run id, failed batches, the explain summary and the per-explainer summary rows."""
    started = time.perf_counter()
    summary = explain_corpus(params, execution)
    db_path = str(execution.db or default_db_path())
    plan = plan_evaluate(db_path, summary["run_id"], settings, execution.limit, execution.batch_size,
                         execution.staging_dir, command, execution.device)
    get_run_logger().info("evaluate %s: %d samples in %d batches", plan.run_id, plan.n_pending, len(plan.batch_ids))
    failed = run_batches(plan, execution)
    return {**finish_job(plan, failed, started), "explain": summary}
