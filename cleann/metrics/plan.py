"""Plan an evaluation of a CLEANN run: which samples, their inputs and CLEANN's sets.

Why read the explain run: CLEANN's explanations, graphs and costs are already in DuckDB
(the pipeline computed them); evaluation re-runs inference only for the baselines and
the removal oracle. Samples are the run's ``ok`` samples in the pipeline's order, the
first ``limit`` of the split; samples already evaluated for every requested explainer
are skipped, so a re-run resumes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from cleann.errors import BadInputError
from cleann.metrics.settings import EvalSettings, describe_machine
from cleann.pipeline.corpus import select_samples
from cleann.pipeline.dbopen import open_db
from cleann.pipeline.params import ExplainParams
from cleann.pipeline.registry import get_run
from cleann.pipeline.staging import Staging, batch_id_for, default_staging_root

NO_RUN = "\x00evaluation"  # a run id with no samples: select_samples then returns the whole slice


@dataclass
class EvalPlan:
    run_id: str
    db_path: str
    staging_root: str
    model_path: str
    params_json: str
    settings_json: str
    batch_ids: list[str]
    n_samples: int

    @property
    def staging(self) -> Staging:
        return Staging(self.staging_root, self.run_id)


def eval_staging_root(db_path: str | Path, staging_dir: str | None = None) -> str:
    return f"{(staging_dir or default_staging_root(db_path)).rstrip('/')}/evaluate"


def _marker(name: str) -> str:
    return "attention_h0" if name == "attention_heads" else name


def plan_evaluation(db_path: str | Path, run_id: str, settings: EvalSettings, limit: int | None = None,
                    batch_size: int = 8, staging_dir: str | None = None,
                    command: str | None = None) -> EvalPlan:
    """Stage input batches (inputs + CLEANN's best set and cost) and record the evaluation."""
    from cleann.metrics.load import load_ready_eval

    db_path = str(db_path)
    root = eval_staging_root(db_path, staging_dir)
    staging = Staging(root, run_id)
    load_ready_eval(db_path, staging)  # batches a killed evaluation staged but never loaded
    staging.clear_unfinished()
    with open_db(db_path) as con:
        run = get_run(con, run_id)
        if run is None:
            raise BadInputError(f"run {run_id!r} is not in {db_path}; run `cleann explain` first")
        params = ExplainParams.from_json(run["params"])
        inputs = select_samples(con, NO_RUN, params, limit)
        done = con.execute("""
            SELECT s.sample_id, s.stage_seconds,
                   coalesce(s.model_rows, (SELECT sum(h.tester_calls) FROM explain_heads h
                     WHERE h.run_id = s.run_id AND h.sample_id = s.sample_id)) AS tester_rows,
                   (SELECT e.positions FROM explanations e WHERE e.run_id = s.run_id
                     AND e.sample_id = s.sample_id AND e.explainer = 'cleann' AND e.rank = 0) AS positions
            FROM samples s WHERE s.run_id = ? AND s.status = 'ok'""", [run_id]).df()
        markers = [_marker(n) for n in settings.explainers]
        evaluated = con.execute(
            "SELECT sample_id FROM metrics WHERE run_id = ? AND metric = 'n_candidates' "
            "AND list_contains(?, explainer) GROUP BY sample_id HAVING count(DISTINCT explainer) = ?",
            [run_id, markers, len(markers)]).df()["sample_id"]
        con.execute("DELETE FROM evaluations WHERE run_id = ?", [run_id])
        con.execute("INSERT INTO evaluations VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
                    [run_id, list(settings.explainers), settings.to_json(), describe_machine(), command,
                     datetime.now(timezone.utc).replace(tzinfo=None)])
    frame = inputs.merge(done, on="sample_id", how="inner")
    frame = frame[~frame["sample_id"].isin(set(evaluated))]
    frame = frame.assign(cleann_seconds=[_search_seconds(s) for s in frame["stage_seconds"]],
                         positions=[_int_list(p) for p in frame["positions"]])
    frame = frame.drop(columns=["stage_seconds"])
    batch_ids = []
    for start in range(0, len(frame), batch_size):
        chunk = frame.iloc[start:start + batch_size]
        batch_id = batch_id_for(chunk["sample_id"])
        staging.write_input(batch_id, chunk)
        batch_ids.append(batch_id)
    return EvalPlan(run_id, db_path, root, str(run["model"]), run["params"], settings.to_json(),
                    batch_ids, len(frame))


def _int_list(value) -> list[int] | None:
    """A DuckDB INTEGER[] cell as a list (None for SQL NULL, whatever pandas made of it)."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    return [int(x) for x in value]


def _search_seconds(stage_json) -> float:
    """CLEANN's own cost: graph learning + search + tester passes (inference excluded)."""
    if not isinstance(stage_json, str):
        return float("nan")
    stages = json.loads(stage_json)
    return float(stages.get("graph_search", 0.0)) + float(stages.get("tester", 0.0))
