"""Flow `explain_corpus`: prepare -> plan -> work per batch + load -> finish, every step a task.

Why this shape: it is the staged job of `cleann.pipeline.job` (the steps of
`cleann.pipeline.explain`, which `run_local` runs in one process), so every step is
retried on transient errors and visible in the Prefect UI, and the database is held for
writing only inside the short plan, load and finish tasks.
Parameters are the two typed dataclasses of `cleann.pipeline.params` (declared once; the
CLI options are generated from them). A run whose flow fails or crashes is marked
``failed`` with its reason by the state hooks.
"""
from __future__ import annotations

import time

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from cleann.flows.job import run_batches
from cleann.pipeline.params import ExecParams, ExplainParams, from_mapping
from cleann.pipeline.explain import summary_lines
from cleann.tasks.job import finish_job, plan_explain, prepare_explain


def mark_failed(flow, run, state) -> None:
    """State hook (failure, crash): mark the run ``failed`` with the state's message."""
    from cleann.pipeline.explain import known_run_id
    from cleann.store.runs import mark_run_failed

    try:
        params = run.parameters.get("params") or {}
        execution = run.parameters.get("execution") or {}
        params = params if isinstance(params, ExplainParams) else from_mapping(ExplainParams, params)
        execution = execution if isinstance(execution, ExecParams) else from_mapping(ExecParams, execution)
        run_id = known_run_id(params, execution)
        if run_id:
            mark_run_failed(execution.db, run_id, state.message or state.name)
    except Exception as exc:  # noqa: BLE001 - a hook must not hide the flow's own error
        get_run_logger().warning("could not mark the run failed: %s", exc)


@flow(name="explain_corpus", log_prints=False, on_failure=[mark_failed], on_crashed=[mark_failed])
def explain_corpus(params: ExplainParams = ExplainParams(), execution: ExecParams = ExecParams()) -> dict:
    """Explain every pending sample of a corpus slice; returns the run summary as a dict."""
    logger = get_run_logger()
    started = time.perf_counter()
    model = prepare_explain(params, execution)
    plan = plan_explain(params, execution, model, str(flow_run.get_id() or "") or None)
    logger.info("run %s: %d samples pending in %d batches (%d recovered from a killed run)",
                plan.run_id, plan.n_pending, len(plan.batch_ids), plan.recovered)
    failed = run_batches(plan, execution)
    summary = finish_job(plan, failed, started)
    logger.info("%s", " | ".join(summary_lines(summary)))
    try:  # issue 15: found share, sizes and top causal words in the Prefect UI (Artifacts)
        from prefect.artifacts import create_markdown_artifact

        from cleann.report.artifact import artifact_key, run_summary_markdown_for_db
        create_markdown_artifact(run_summary_markdown_for_db(plan.db_path, plan.run_id),
                                 key=artifact_key(plan.run_id), description=f"cleann run {plan.run_id}")
    except Exception as exc:  # noqa: BLE001 - a summary must never fail the run
        logger.warning("run summary artifact not published: %s", exc)
    return summary
