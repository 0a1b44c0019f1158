"""Flow `explain_corpus`: plan pending samples, explain batches through a task runner, load.

Why two flows: the task runner (threads, processes, dask) is a run-time parameter, and a
Prefect flow's runner is fixed when it is called, so the outer flow plans and then calls
the inner `explain_batches` with the chosen runner. The flow process is the single
loader: as each batch's task finishes it loads that batch into DuckDB (one short
transaction), so workers never open the database and analysts can query between batches.
"""
from __future__ import annotations

import sys
import time

from prefect import flow, get_run_logger
from prefect.futures import as_completed
from prefect.runtime import flow_run
from tqdm import tqdm

from cleann.pipeline.driver import RunPlan, finish, params_from_kwargs, plan_run
from cleann.pipeline.loader import load_ready
from cleann.pipeline.report import summary_lines
from cleann.pipeline.runners import make_task_runner
from cleann.pipeline.staging import Staging
from cleann.tasks.explain import explain_batch


@flow(name="explain_batches", log_prints=False)
def explain_batches(
    db_path: str, staging_root: str, run_id: str, batch_ids: list[str], params_json: str, model_path: str,
    store_attention: bool = False,
) -> int:
    """Submit every batch, load each as it completes; returns the number of batches that failed."""
    logger = get_run_logger()
    staging = Staging(staging_root, run_id)
    futures = [explain_batch.submit(staging_root, run_id, b, params_json, model_path, store_attention)
               for b in batch_ids]
    failed = 0
    bar = tqdm(total=len(futures), desc=f"explain {run_id}", unit="batch", disable=not sys.stderr.isatty())
    for fut in as_completed(futures):
        bar.update(1)
        try:
            fut.result()
        except Exception as exc:  # noqa: BLE001 - the run goes on; a re-run resumes the batch
            failed += 1
            logger.warning("batch failed after retries, left for the next run: %s", exc)
        load_ready(db_path, staging)
    bar.close()
    return failed


@flow(name="explain_corpus", log_prints=False)
def explain_corpus(
    corpus_kind: str = "imdb",
    corpus_name: str | None = None,
    split: str = "test",
    limit: int | None = None,
    batch_size: int = 8,
    heads: str = "all",
    nodes: str = "all",
    learner: str = "icd",
    alpha: float = 0.01,
    num_samples: int | None = None,
    removal: str = "pad",
    max_set_size: int | None = None,
    max_range: int | None = None,
    max_cond_size: int | None = None,
    max_length: int = 128,
    legacy_negative_pcorr: bool = False,
    search: str = "head",
    model: str | None = None,
    db: str | None = None,
    staging_dir: str | None = None,
    runner: str = "threads",
    dask_address: str | None = None,
    workers: int | None = None,
    retry_failed: bool = False,
    store_attention: bool = False,
) -> dict:
    """Explain every pending sample of a corpus slice; returns the run summary as a dict."""
    started = time.perf_counter()
    kwargs = dict(locals())
    params, exec_params, model_path = params_from_kwargs(kwargs)
    plan: RunPlan = plan_run(params, exec_params, model_path, db, retry_failed=retry_failed,
                             flow_run_id=str(flow_run.get_id() or "") or None)
    failed_batches = 0
    if plan.batch_ids:
        inner = explain_batches.with_options(task_runner=make_task_runner(runner, dask_address, workers))
        failed_batches = inner(plan.db_path, plan.staging_root, plan.run_id, plan.batch_ids,
                               plan.params_json, plan.model_path, exec_params.store_attention)
    summary = finish(plan, started, failed_batches)
    get_run_logger().info("%s", " | ".join(summary_lines(summary.as_dict())))
    return summary.as_dict()
