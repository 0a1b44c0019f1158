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


def load_batch(con: duckdb.DuckDBPyConnection, staging: Staging, batch_id: str) -> int:
    """Load one staged batch in one transaction; returns rows inserted."""
    from cleann.store.db import insert_frame, transaction

    manifest = staging.read_manifest(batch_id)
    ids = pd.DataFrame({"sample_id": [str(s) for s in manifest["sample_ids"]]})
    tables = {name: staging.read_table(batch_id, name) for name in manifest["rows"]}
    inserted = 0
    con.register("_batch_ids", ids)
    try:
        with transaction(con):
            for name in PIPELINE_TABLES:
                con.execute(
                    f"DELETE FROM {name} WHERE run_id = ? AND sample_id IN (SELECT sample_id FROM _batch_ids)",
                    [staging.run_id],
                )
            for name in PIPELINE_TABLES:
                table = tables.get(name)
                if table is not None and table.num_rows:
                    inserted += insert_frame(con, name, table.to_pandas())
    finally:
        con.unregister("_batch_ids")
    staging.remove_batch(batch_id)
    return inserted


def load_ready(
    db_path: str | Path | None,
    staging: Staging,
    on_batch: Callable[[str, int], None] | None = None,
) -> LoadStats:
    """Load every complete staged batch of the run (leftovers of a killed run included).

    The database is opened per batch and closed right after, so analysts' read-only
    queries get the file between batches.
    """
    stats = LoadStats()
    for batch_id in staging.ready_batches():
        n_samples = len(staging.read_manifest(batch_id)["sample_ids"])
        with open_db(db_path) as con:
            stats.rows += load_batch(con, staging, batch_id)
        stats.batches += 1
        stats.samples += n_samples
        if on_batch is not None:
            on_batch(batch_id, n_samples)
    return stats
