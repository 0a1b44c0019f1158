"""The one writer: moves complete staged batches into DuckDB, idempotently.

Why: a batch can be staged twice (task retry, resume after a kill, `cleann retry`), so
each load deletes the batch's (run_id, sample_id) rows from every pipeline table and
inserts the staged rows in ONE transaction; readers never see half a batch and a second
load changes nothing. Staged files are removed only after the commit, manifest first.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from cleann.pipeline.dbopen import open_db
from cleann.pipeline.staging import Staging

# Tables the pipeline writes, keyed by (run_id, sample_id); order = insert order.
PIPELINE_TABLES = ("samples", "tokens", "graph_edges", "explanations", "explain_heads")


@dataclass
class LoadStats:
    batches: int = 0
    samples: int = 0
    rows: int = 0


@dataclass
class StagedBatch:
    """A staged batch read into memory, so the database is held only for the insert."""

    batch_id: str
    sample_ids: list[str]
    tables: dict[str, pd.DataFrame]


def read_batch(staging: Staging, batch_id: str) -> StagedBatch:
    """Read a complete staged batch (manifest and Parquet files) without touching the database."""
    manifest = staging.read_manifest(batch_id)
    tables = {name: staging.read_table(batch_id, name).to_pandas() for name in manifest["rows"]}
    return StagedBatch(batch_id, [str(s) for s in manifest["sample_ids"]], tables)


def insert_batch(con: duckdb.DuckDBPyConnection, run_id: str, batch: StagedBatch) -> int:
    """Replace the batch's samples of ``run_id`` in ONE transaction; returns rows inserted."""
    from cleann.store.db import insert_frame, transaction

    ids = pd.DataFrame({"sample_id": batch.sample_ids})
    inserted = 0
    con.register("_batch_ids", ids)
    try:
        with transaction(con):
            for name in PIPELINE_TABLES:
                con.execute(
                    f"DELETE FROM {name} WHERE run_id = ? AND sample_id IN (SELECT sample_id FROM _batch_ids)",
                    [run_id],
                )
            for name in PIPELINE_TABLES:
                frame = batch.tables.get(name)
                if frame is not None and len(frame):
                    inserted += insert_frame(con, name, frame)
    finally:
        try:  # after a failed transaction this fails too; keep the original error
            con.unregister("_batch_ids")
        except duckdb.Error:
            pass
    return inserted


def load_batch(con: duckdb.DuckDBPyConnection, staging: Staging, batch_id: str) -> int:
    """Load one staged batch in one transaction on an open connection; returns rows inserted."""
    inserted = insert_batch(con, staging.run_id, read_batch(staging, batch_id))
    staging.remove_batch(batch_id)
    return inserted


def load_ready(
    db_path: str | Path | None,
    staging: Staging,
    on_batch: Callable[[str, int], None] | None = None,
) -> LoadStats:
    """Load every complete staged batch of the run (leftovers of a killed run included).

    Per batch: read the staged files first, then open the database only for the one
    insert transaction, close it, and only then remove the staged files. So the write
    lock is held for the insert alone (measured in tests/store/test_wait.py) and readers
    such as `cleann sql` get the file between batches.
    """
    stats = LoadStats()
    for batch_id in staging.ready_batches():
        batch = read_batch(staging, batch_id)
        with open_db(db_path) as con:
            stats.rows += insert_batch(con, staging.run_id, batch)
        staging.remove_batch(batch_id)  # after the commit: a crash before it only reloads the same rows
        stats.batches += 1
        stats.samples += len(batch.sample_ids)
        if on_batch is not None:
            on_batch(batch_id, len(batch.sample_ids))
    return stats
