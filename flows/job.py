"""The one Prefect flow shape of a staged job: work on every batch in parallel, load each.

Why a subflow: the task runner (threads, processes, Dask) is a run-time choice and a
flow's runner is fixed when it is called, so the outer flow (explain or evaluate) plans
and then calls `staged_batches` with the chosen runner. The outer flow process is the
single writer: as each batch's work task completes, the load task moves it into DuckDB
in one short transaction, so workers never open the database and readers get the file
between batches. A batch that still fails after its retries is counted and left staged
for the next run, which resumes it.
"""
from __future__ import annotations

import os
import sys

from prefect import flow, get_run_logger
from prefect.futures import as_completed
from tqdm import tqdm

from cleann.errors import BadInputError
from cleann.pipeline.job import JobPlan
from cleann.pipeline.params import ExecParams
from cleann.tasks.job import load_batch, work_batch


def make_task_runner(runner: str, dask_address: str | None = None, workers: int | None = None):
    """A Prefect task runner for ``runner`` in threads | processes | dask | sequential.

    Dask workers are processes with one thread each, so graph learning uses all cores
    despite the GIL; a LocalCluster is started when no scheduler address is given."""
    n = workers or max(1, os.cpu_count() or 1)
    if runner in ("threads", "sequential"):
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=1 if runner == "sequential" else n)
    if runner == "processes":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=n)
    if runner == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError:
            raise BadInputError("runner 'dask' needs the dask extra: pip install 'cleann[dask]'") from None
        if dask_address:
            return DaskTaskRunner(address=dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": n, "threads_per_worker": 1, "processes": True,
                                              "dashboard_address": None})
    raise BadInputError(f"--runner {runner!r}: use threads, processes, dask or sequential")


@flow(name="staged_batches", log_prints=False)
def staged_batches(plan: JobPlan) -> int:
    """Submit every batch's work task, load each as it completes; returns the failed batches."""
    logger = get_run_logger()
    futures = [work_batch.submit(plan, b) for b in plan.batch_ids]
    batch_of = {f.task_run_id: b for f, b in zip(futures, plan.batch_ids)}
    failed = 0
    bar = tqdm(total=len(futures), desc=f"{plan.job} {plan.run_id}", unit="batch", disable=not sys.stderr.isatty())
    for fut in as_completed(futures):
        bar.update(1)
        try:
            fut.result()
        except Exception as exc:  # noqa: BLE001 - the run goes on; a re-run resumes the batch
            failed += 1
            logger.warning("%s batch failed after retries, left for the next run: %s", plan.job, exc)
            continue  # anything it staged is loaded by the finish step
        load_batch(plan, batch_of[fut.task_run_id])
    bar.close()
    logger.info("%s %s: %d batches, %d failed", plan.job, plan.run_id, len(futures), failed)
    return failed


def flow_api_url() -> str | None:
    """The Prefect API the running flow reports to: the user's ``PREFECT_API_URL`` or the
    temporary server Prefect started for this process (None outside a flow, or where the
    client has no HTTP address)."""
    from prefect.context import FlowRunContext
    from prefect.settings import PREFECT_API_URL

    ctx = FlowRunContext.get()
    client = ctx.client if ctx else None
    if client is not None and getattr(client, "_ephemeral_app", None) is None:
        return str(client.api_url)
    return PREFECT_API_URL.value() or None


def run_batches(plan: JobPlan, execution: ExecParams) -> int:
    """`staged_batches` on the runner ``execution`` names; 0 when there is nothing to do.

    Why the settings around the subflow: with no ``PREFECT_API_URL`` the temporary server's
    address lives only in this process (Prefect's ``SubprocessASGIServer`` singleton), not
    in the settings that Prefect ships with each task to a Dask worker
    (``prefect.context.serialize_context``); finding no URL there, every worker started a
    temporary server of its own, recorded its task runs there and kept it alive as long as
    the worker (issue 22). Pinning the flow's URL in the settings sends the workers' task
    runs and logs to the flow's server; with ephemeral mode off there, nothing in a task
    can start a server."""
    if not plan.batch_ids:
        return 0
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED, temporary_settings

    runner = make_task_runner(execution.runner, execution.dask_address, execution.workers)
    api_url = flow_api_url()
    if not api_url:
        return staged_batches.with_options(task_runner=runner)(plan)
    with temporary_settings(updates={PREFECT_API_URL: api_url, PREFECT_SERVER_EPHEMERAL_ENABLED: False}):
        return staged_batches.with_options(task_runner=runner)(plan)
