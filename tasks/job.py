"""Prefect tasks of the staged jobs (cleann.pipeline.job): prepare, plan, work, load, finish.

Why tasks and not plain calls in the flow: each step is then retried on transient errors
and visible in the Prefect UI with its state. ``work_batch`` runs on the flow's task
runner (threads, processes, Dask); the others are called directly by the flow, so they
run one at a time in the flow process: the only writer, each holding the database for
short transactions only. Nothing is cached across runs (NO_CACHE): resume is decided by
the database and the staging folder, not by Prefect's cache.
"""
from __future__ import annotations

import multiprocessing
import os

from prefect import task
from prefect.cache_policies import NO_CACHE

from cleann.metrics.settings import EvalSettings
from cleann.pipeline.job import JobPlan, get_job
from cleann.pipeline.params import ExecParams, ExplainParams
from cleann.pipeline.batch import is_transient as _stage_is_transient
from cleann.tasks.retry import retry_only_when

_TRANSIENT_NAMES = {"BrokenProcessPool", "KilledWorker", "CommClosedError", "StreamClosedError"}


def is_transient(exc: BaseException) -> bool:
    """I/O, timeouts, memory and lost workers are worth a retry; nothing else is."""
    return _stage_is_transient(exc) or type(exc).__name__ in _TRANSIENT_NAMES


retry_only_transient = retry_only_when(is_transient)
RETRIES = dict(retries=2, retry_delay_seconds=2, retry_condition_fn=retry_only_transient, cache_policy=NO_CACHE)


def limit_torch_threads(concurrent: int = 1) -> None:
    """In worker processes, one torch thread each: the runner already fills the cores; with
    ``concurrent`` batches in this process (the threads runner), the cores shared among them."""
    if multiprocessing.current_process().name != "MainProcess" or os.environ.get("CLEANN_WORKER_THREADS"):
        import torch

        torch.set_num_threads(int(os.environ.get("CLEANN_WORKER_THREADS", "1")))
    else:  # set every time: an explain then an evaluate in one process must not inherit the split
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, concurrent)))


@task(name="prepare_explain", **RETRIES)
def prepare_explain(params: ExplainParams, execution: ExecParams) -> str:
    """The model path (a default model is trained once on first use), with its corpus present
    (an offline corpus is fetched without holding the database, then ingested)."""
    from cleann.pipeline import explain

    return explain.prepare(params, execution)


@task(name="plan_explain", **RETRIES)
def plan_explain(params: ExplainParams, execution: ExecParams, model_path: str,
                 flow_run_id: str | None = None) -> JobPlan:
    """Register the run and stage its pending samples as batches."""
    from cleann.pipeline import explain

    return explain.plan_run(params, execution, model_path, execution.db, flow_run_id=flow_run_id)


@task(name="plan_evaluate", **RETRIES)
def plan_evaluate(db_path: str, run_id: str, settings: EvalSettings, limit: int | None, batch_size: int,
                  staging_dir: str | None, command: str | None, device: str = "cpu") -> JobPlan:
    """Stage the explain run's samples to score against the baselines; record the evaluation."""
    from cleann.metrics import evaluate

    return evaluate.plan(db_path, run_id, settings, limit, batch_size, staging_dir, command, device)


@task(name="work_batch", task_run_name="{plan.job}-{batch_id}", **RETRIES)
def work_batch(plan: JobPlan, batch_id: str) -> str:
    """One staged input batch through the job's work step; returns the staged manifest path."""
    limit_torch_threads(int(plan.options.get("streams", 1)))
    return get_job(plan.job).work(plan, batch_id)


@task(name="load_batch", task_run_name="load-{batch_id}", **RETRIES)
def load_batch(plan: JobPlan, batch_id: str) -> int:
    """Load one finished staged batch into DuckDB (one short transaction); returns its samples."""
    return get_job(plan.job).load(plan, only=[batch_id]).samples


@task(name="finish", task_run_name="finish-{plan.job}", **RETRIES)
def finish_job(plan: JobPlan, failed_batches: int, started: float) -> dict:
    """Load leftovers, set the final status, return the summary."""
    return get_job(plan.job).finish(plan, failed_batches, started)
