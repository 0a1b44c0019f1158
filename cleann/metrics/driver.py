"""Evaluation without Prefect: plan, process + load batch by batch, aggregate.

Why: the flow calls the same steps through a task runner; tests and `--no-prefect` call
them directly. Run-level aggregates go to `metrics` with ``sample_id = ''``.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from cleann.metrics.load import load_ready_eval
from cleann.metrics.plan import EvalPlan, plan_evaluation
from cleann.metrics.settings import EvalSettings
from cleann.metrics.summary import summarize
from cleann.pipeline.dbopen import open_db
from cleann.pipeline.params import ExplainParams


def paired_table(db_path: str | Path, run_id: str) -> pd.DataFrame:
    """:func:`cleann.metrics.summary.paired_sizes` for a stored evaluation."""
    from cleann.metrics.summary import paired_sizes

    with open_db(db_path, read_only=True) as con:
        per_sample = con.execute("SELECT sample_id, explainer, metric, value FROM metrics "
                                 "WHERE run_id = ? AND sample_id <> ''", [run_id]).df()
    return paired_sizes(per_sample) if len(per_sample) else pd.DataFrame()


def finish_evaluation(plan: EvalPlan) -> pd.DataFrame:
    """Load leftovers, store per-explainer aggregates, close the evaluation; returns them."""
    from cleann.store.db import insert_frame, transaction

    load_ready_eval(plan.db_path, plan.staging)
    with open_db(plan.db_path) as con:
        per_sample = con.execute(
            "SELECT sample_id, explainer, metric, value FROM metrics WHERE run_id = ? AND sample_id <> ''",
            [plan.run_id]).df()
        table = summarize(per_sample) if len(per_sample) else pd.DataFrame()
        with transaction(con):
            con.execute("DELETE FROM metrics WHERE run_id = ? AND sample_id = ''", [plan.run_id])
            if len(table):
                long = table.melt(id_vars="explainer", var_name="metric", value_name="value").dropna()
                long = long.assign(run_id=plan.run_id, sample_id="", value=long["value"].astype(float))
                insert_frame(con, "metrics", long[["run_id", "sample_id", "explainer", "metric", "value"]])
            n = per_sample["sample_id"].nunique() if len(per_sample) else 0
            con.execute("UPDATE evaluations SET finished_at = ?, n_samples = ? WHERE run_id = ?",
                        [datetime.now(timezone.utc).replace(tzinfo=None), int(n), plan.run_id])
    return table


def run_evaluation_local(db_path: str | Path, run_id: str, settings: EvalSettings, limit: int | None = None,
                         batch_size: int = 8, staging_dir: str | None = None,
                         command: str | None = None) -> pd.DataFrame:
    """Evaluate an existing CLEANN run in this process; returns the per-explainer table."""
    from cleann.metrics.stage import evaluate_batch

    plan = plan_evaluation(db_path, run_id, settings, limit, batch_size, staging_dir, command)
    params = ExplainParams.from_json(plan.params_json)
    for batch_id in plan.batch_ids:
        evaluate_batch(plan.staging, batch_id, params, plan.model_path, settings)
        load_ready_eval(plan.db_path, plan.staging)
    return finish_evaluation(plan)
