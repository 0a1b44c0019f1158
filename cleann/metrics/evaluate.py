"""The evaluate job's steps: plan, work (one batch), finish; and a local driver.

Why: evaluation is the staged job of :mod:`cleann.pipeline.job` with its own steps and
table policy (the counterpart of :mod:`cleann.pipeline.explain`); the flow
``evaluate_corpus`` calls each step as a task, tests and `--no-prefect` call them here.
The plan is :mod:`cleann.metrics.plan`, the work on one batch :mod:`cleann.metrics.batch`.
Run-level aggregates go to `metrics` with ``sample_id = ''``.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from cleann.metrics.load import EVAL_TABLES
from cleann.metrics.settings import EvalSettings
from cleann.metrics.summary import summarize
from cleann.pipeline.job import JobPlan, StagedJob, TablePolicy, load_staged, run_local
from cleann.store.runs import open_db

# An evaluation batch replaces only the rows of the explainers it evaluated, never CLEANN's
# explanations (those belong to the explain run).
EVALUATE_TABLES = TablePolicy(EVAL_TABLES, by_explainer=True, keep=(("explanations", "explainer = 'cleann'"),))


def paired_table(db_path: str | Path, run_id: str) -> pd.DataFrame:
    """:func:`cleann.metrics.summary.paired_sizes` for a stored evaluation."""
    from cleann.metrics.summary import paired_sizes

    with open_db(db_path, read_only=True) as con:
        per_sample = con.execute("SELECT sample_id, explainer, metric, value FROM metrics "
                                 "WHERE run_id = ? AND sample_id <> ''", [run_id]).df()
    return paired_sizes(per_sample) if len(per_sample) else pd.DataFrame()


def plan(db_path: str | Path, run_id: str, settings: EvalSettings, limit: int | None = None,
         batch_size: int = 8, staging_dir: str | None = None, command: str | None = None,
         device: str = "cpu") -> JobPlan:
    """Stage the samples to evaluate and record the evaluation (see `plan_evaluation`)."""
    from cleann.metrics.plan import plan_evaluation

    p = plan_evaluation(db_path, run_id, settings, limit, batch_size, staging_dir, command)
    return JobPlan("evaluate", p.run_id, p.db_path, p.staging_root, p.model_path, p.params_json,
                   tuple(p.batch_ids), p.n_samples, settings_json=p.settings_json,
                   options={"device": device})


def work(plan: JobPlan, batch_id: str) -> str:
    """Evaluate one staged batch into staged files; returns the manifest path."""
    from cleann.metrics.batch import evaluate_batch

    return evaluate_batch(plan.staging, batch_id, plan.params, plan.model_path,
                          EvalSettings.from_json(plan.settings_json),
                          device=str(plan.options.get("device", "cpu")))


def finish_evaluation(plan: JobPlan) -> pd.DataFrame:
    """Load leftovers, store per-explainer aggregates, close the evaluation; returns them."""
    from cleann.store.db import insert_frame, transaction

    load_staged(plan.db_path, plan.staging, EVALUATE_TABLES)
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


def finish(plan: JobPlan, failed_batches: int = 0, started: float | None = None) -> dict:
    """The evaluate job's last step: aggregates stored; run id, failed batches and summary rows."""
    table = finish_evaluation(plan)
    return {"run_id": plan.run_id, "failed_batches": failed_batches, "summary": table.to_dict(orient="records")}


EVALUATE_JOB = StagedJob("evaluate", EVALUATE_TABLES, work, finish)


def run_evaluation_local(db_path: str | Path, run_id: str, settings: EvalSettings, limit: int | None = None,
                         batch_size: int = 8, staging_dir: str | None = None,
                         command: str | None = None, device: str = "cpu") -> pd.DataFrame:
    """Evaluate an existing CLEANN run in this process; returns the per-explainer table."""
    result = run_local(plan(db_path, run_id, settings, limit, batch_size, staging_dir, command, device))
    return pd.DataFrame(result["summary"])
