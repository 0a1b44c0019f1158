"""Loads staged evaluation batches into DuckDB: one transaction per batch, idempotent.

Why not the pipeline's loader as is: it owns the pipeline tables (and deletes a batch's
samples/tokens/explanations before inserting), while an evaluation batch must replace
only its own rows: metrics, costs and token_scores of the evaluated explainers, and baseline
rows of `explanations` (never CLEANN's). Staging (files, manifests, atomic renames) is
the pipeline's ``Staging``; only the table set differs.
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from cleann.store.runs import Staging, open_db

EVAL_TABLES = ("metrics", "explainer_costs", "token_scores", "explanations")


def load_eval_batch(con: duckdb.DuckDBPyConnection, staging: Staging, batch_id: str) -> int:
    from cleann.store.db import insert_frame, transaction

    manifest = staging.read_manifest(batch_id)
    tables = {name: staging.read_table(batch_id, name).to_pandas() for name in manifest["rows"]}
    keys = pd.DataFrame({"sample_id": [str(s) for s in manifest["sample_ids"]]})
    # every evaluated explainer has metric rows for every sample of the batch
    staged = tables.get("metrics")
    names = sorted(set(staged["explainer"])) if staged is not None and len(staged) else []
    explainers = pd.DataFrame({"explainer": pd.Series(names, dtype="string")})
    inserted = 0
    con.register("_eval_ids", keys)
    con.register("_eval_explainers", explainers)
    try:
        with transaction(con):
            for name in EVAL_TABLES:
                cleann_guard = " AND explainer <> 'cleann'" if name == "explanations" else ""
                con.execute(
                    f"DELETE FROM {name} WHERE run_id = ? AND sample_id IN (SELECT sample_id FROM _eval_ids) "
                    f"AND explainer IN (SELECT explainer FROM _eval_explainers){cleann_guard}",
                    [staging.run_id])
            for name in EVAL_TABLES:
                frame = tables.get(name)
                if frame is not None and len(frame):
                    inserted += insert_frame(con, name, frame)
    finally:
        con.unregister("_eval_ids")
        con.unregister("_eval_explainers")
    staging.remove_batch(batch_id)
    return inserted


def load_ready_eval(db_path: str | Path | None, staging: Staging) -> int:
    """Load every complete staged evaluation batch; returns the number loaded."""
    n = 0
    for batch_id in staging.ready_batches():
        with open_db(db_path) as con:
            load_eval_batch(con, staging, batch_id)
        n += 1
    return n
