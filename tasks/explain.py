"""Prefect task around `cleann.pipeline.stage.process_batch`: ids and paths in, a path out.

Why these options: results are staged files with deterministic names, so a retry simply
overwrites them; retries are reserved for transient errors (I/O, timeouts, memory, a lost
worker), while a permanent problem with one sample is already recorded as a failed
sample inside the batch. Nothing is cached across runs (NO_CACHE): resume is decided by
the database, not by Prefect's cache.
"""
from __future__ import annotations

import multiprocessing
import os

from prefect import task
from prefect.cache_policies import NO_CACHE

from cleann.pipeline.params import ExplainParams
from cleann.pipeline.stage import is_transient as _stage_is_transient
from cleann.pipeline.stage import process_batch
from cleann.pipeline.staging import Staging
from cleann.tasks.retry import retry_only_when

_TRANSIENT_NAMES = {"BrokenProcessPool", "KilledWorker", "CommClosedError", "StreamClosedError"}


def is_transient(exc: BaseException) -> bool:
    """I/O, timeouts, memory and lost workers are worth a retry; nothing else is."""
    return _stage_is_transient(exc) or type(exc).__name__ in _TRANSIENT_NAMES


_retry_only_transient = retry_only_when(is_transient)


def _limit_torch_threads() -> None:
    """In worker processes, one torch thread each: the runner already fills the cores."""
    if multiprocessing.current_process().name != "MainProcess" or os.environ.get("CLEANN_WORKER_THREADS"):
        import torch

        torch.set_num_threads(int(os.environ.get("CLEANN_WORKER_THREADS", "1")))


@task(
    name="explain_batch",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=_retry_only_transient,
    cache_policy=NO_CACHE,
    task_run_name="explain-{batch_id}",
)
def explain_batch(staging_root: str, run_id: str, batch_id: str, params_json: str, model_path: str,
                  store_attention: bool = False) -> str:
    """Process one staged input batch; returns the staged manifest path."""
    _limit_torch_threads()
    params = ExplainParams.from_json(params_json)
    return process_batch(Staging(staging_root, run_id), batch_id, params, model_path,
                         store_attention=store_attention)
