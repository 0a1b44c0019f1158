"""One staged job: prepare -> plan -> work per batch -> load -> finish, for explain and evaluate.

Why one shape: explaining a corpus and evaluating a run are the same job with different
steps. The database allows one writer and blocks readers while it writes, so:

- ``prepare`` fetches what the run needs (model, offline corpus) without holding the
  database for writing (an ingest of a missing offline corpus is one short write);
- ``plan`` opens the database for a moment, registers the run and stages the pending
  samples as input batches (Parquet files under the staging folder);
- ``work`` processes one batch; it touches only the staging folder, so batches run in
  parallel on threads, processes or a Dask cluster and a retry simply overwrites;
- ``load`` moves complete staged batches into DuckDB, one short transaction per batch,
  replacing exactly the rows its :class:`TablePolicy` names (a second load is a no-op);
- ``finish`` loads leftovers, sets the final status and returns the summary.

This module is plain Python (no Prefect): :func:`run_local` drives a job in this
process; the Prefect flows (``cleann.flows``) call the same steps, each as a task.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from cleann.store.runs import LoadStats, StagedBatch, Staging, open_db, read_batch


@dataclass(frozen=True)
class TablePolicy:
    """Which rows loading a staged batch replaces, as data.

    ``tables``: the tables a batch writes, in insert order; a load first deletes the rows
    of the batch's samples (``run_id``, ``sample_id``) from each. ``by_explainer``: delete
    only the rows of the explainers present in the batch's staged ``metrics``.
    ``keep``: (table, SQL condition) pairs for rows a load never deletes.
    """

    tables: tuple[str, ...]
    by_explainer: bool = False
    keep: tuple[tuple[str, str], ...] = ()

    def delete_sql(self, table: str) -> str:
        sql = f"DELETE FROM {table} WHERE run_id = ? AND sample_id IN (SELECT sample_id FROM _batch_ids)"
        if self.by_explainer:
            sql += " AND explainer IN (SELECT explainer FROM _batch_explainers)"
        for name, condition in self.keep:
            if name == table:
                sql += f" AND NOT ({condition})"
        return sql


def replace_rows(con: duckdb.DuckDBPyConnection, run_id: str, batch: StagedBatch, policy: TablePolicy) -> int:
    """Replace a staged batch's rows in ONE transaction (delete per policy, insert); rows inserted."""
    from cleann.store.db import insert_frame, transaction

    staged = batch.tables.get("metrics")
    names = sorted(set(staged["explainer"])) if staged is not None and len(staged) else []
    inserted = 0
    con.register("_batch_ids", pd.DataFrame({"sample_id": batch.sample_ids}))
    con.register("_batch_explainers", pd.DataFrame({"explainer": pd.Series(names, dtype="string")}))
    try:
        with transaction(con):
            for name in policy.tables:
                con.execute(policy.delete_sql(name), [run_id])
            for name in policy.tables:
                frame = batch.tables.get(name)
                if frame is not None and len(frame):
                    inserted += insert_frame(con, name, frame)
    finally:
        for view in ("_batch_ids", "_batch_explainers"):
            try:  # after a failed transaction this fails too; keep the original error
                con.unregister(view)
            except duckdb.Error:
                pass
    return inserted


def load_staged(db_path: str | Path | None, staging: Staging, policy: TablePolicy,
                on_batch: Callable[[str, int], None] | None = None,
                only: Iterable[str] | None = None) -> LoadStats:
    """Load every complete staged batch (a killed run's leftovers included), or of those
    in ``only``: while batches are still being worked on, the flow loads just the batch
    that finished, never one whose work a retry is about to redo from its input file.

    Per batch: read the staged files, open the database only for the one transaction,
    close it, then remove the staged files (manifest first). A crash between commit and
    removal only loads the same rows again; readers get the file between batches."""
    stats = LoadStats()
    ready = staging.ready_batches()
    for batch_id in ready if only is None else [b for b in ready if b in set(only)]:
        batch = read_batch(staging, batch_id)
        with open_db(db_path) as con:
            stats.rows += replace_rows(con, staging.run_id, batch, policy)
        staging.remove_batch(batch_id)
        stats.batches += 1
        stats.samples += len(batch.sample_ids)
        if on_batch is not None:
            on_batch(batch_id, len(batch.sample_ids))
    return stats


@dataclass(frozen=True)
class JobPlan:
    """What ``plan`` decided: small and picklable, handed to every later step."""

    job: str
    run_id: str
    db_path: str
    staging_root: str
    model_path: str
    params_json: str
    batch_ids: tuple[str, ...]
    n_pending: int
    recovered: int = 0  # samples loaded from a previous, killed invocation's staged batches
    settings_json: str | None = None  # evaluate: the EvalSettings
    options: dict[str, Any] = field(default_factory=dict)  # step options (e.g. store_attention)

    @property
    def staging(self) -> Staging:
        return Staging(self.staging_root, self.run_id)

    @property
    def params(self):
        from cleann.pipeline.params import ExplainParams

        return ExplainParams.from_json(self.params_json)


@dataclass(frozen=True)
class StagedJob:
    """A staged job's steps. ``work(plan, batch_id) -> manifest path`` never opens the
    database; ``finish(plan, failed_batches, started) -> summary dict`` does, briefly."""

    name: str
    policy: TablePolicy
    work: Callable[[JobPlan, str], str]
    finish: Callable[[JobPlan, int, float], dict]

    def load(self, plan: JobPlan, on_batch: Callable[[str, int], None] | None = None,
             only: Iterable[str] | None = None) -> LoadStats:
        return load_staged(plan.db_path, plan.staging, self.policy, on_batch, only)


# name -> "module:attribute", imported on first use (the evaluate job pulls in the explainers)
JOBS = {"explain": "cleann.pipeline.explain:EXPLAIN_JOB", "evaluate": "cleann.metrics.evaluate:EVALUATE_JOB"}


def get_job(name: str) -> StagedJob:
    module, attr = JOBS[name].split(":")
    return getattr(import_module(module), attr)


def run_local(plan: JobPlan, on_batch: Callable[[str, int], None] | None = None,
              started: float | None = None, work: Callable[[JobPlan, str], str] | None = None) -> dict:
    """Drive a planned job in this process: work and load batch by batch, then finish.
    ``work`` replaces the job's own step (tests inject an explainer this way)."""
    job = get_job(plan.job)
    started = time.perf_counter() if started is None else started
    failed = 0
    for batch_id in plan.batch_ids:
        try:
            (work or job.work)(plan, batch_id)
        except Exception as exc:  # noqa: BLE001 - as the flow does: the run goes on, a re-run resumes the batch
            failed += 1
            print(f"cleann: {plan.job} batch {batch_id} failed, left for the next run: "
                  f"{type(exc).__name__}: {str(exc)[:200]}", file=sys.stderr, flush=True)
            continue
        job.load(plan, on_batch, only=[batch_id])
    return job.finish(plan, failed, started)
