"""Prefect tasks for ingest: fetch a pinned artifact, load one source into DuckDB.

Why these options: only an unreachable registry or hub is worth retrying (it often comes
back); bad data fails the same way every time, so it fails at once with its message.
Tasks take and return strings and dicts (no frames or connections), and write tasks
are never cached: idempotency comes from the database keys, not from Prefect's cache.
"""
from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from cleann.sources import artifacts
from cleann.sources.catalog import SourceSpec, ingest_source
from cleann.tasks.retry import retry_only_when


def is_transient(exc: BaseException) -> bool:
    """Network and registry failures (and plain timeouts/connection drops) only."""
    return isinstance(exc, (artifacts.RegistryUnreachableError, ConnectionError, TimeoutError))


_retry_only_transient = retry_only_when(is_transient)


@task(name="fetch_artifact", retries=3, retry_delay_seconds=[2, 10, 30],
      retry_condition_fn=_retry_only_transient, cache_policy=NO_CACHE,
      task_run_name="fetch-{name}")
def fetch_artifact(name: str) -> str:
    """Download/verify/extract a pinned artifact (cached on disk); returns its folder."""
    return str(artifacts.fetch(name))


@task(name="ingest_source", retries=2, retry_delay_seconds=[5, 20],
      retry_condition_fn=_retry_only_transient, cache_policy=NO_CACHE,
      task_run_name="ingest-{spec[corpus]}")
def ingest_source_task(db_path: str | None, spec: dict, artifact_dir: str | None = None) -> dict:
    """Load one source and write it to the database; returns the ingest summary."""
    result = ingest_source(db_path, SourceSpec(**spec),
                           Path(artifact_dir) if artifact_dir else None)
    return result.to_dict()
