"""Prefect task around `cleann.metrics.stage.evaluate_batch`: ids and paths in, a path out.

Why these options: same as the pipeline's explain task. Staged files have deterministic
names, so retries (transient errors only) overwrite them; nothing is cached across runs.
"""
from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from cleann.metrics.settings import EvalSettings
from cleann.metrics.stage import evaluate_batch
from cleann.pipeline.params import ExplainParams
from cleann.pipeline.staging import Staging
from cleann.tasks.explain import _limit_torch_threads, _retry_only_transient


@task(name="evaluate_batch", retries=2, retry_delay_seconds=2, retry_condition_fn=_retry_only_transient,
      cache_policy=NO_CACHE, task_run_name="evaluate-{batch_id}")
def evaluate_batch_task(staging_root: str, run_id: str, batch_id: str, params_json: str, model_path: str,
                        settings_json: str) -> str:
    """Evaluate one staged batch; returns the staged manifest path."""
    _limit_torch_threads()
    return evaluate_batch(Staging(staging_root, run_id), batch_id, ExplainParams.from_json(params_json),
                          model_path, EvalSettings.from_json(settings_json))
