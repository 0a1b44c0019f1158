"""Plan an evaluation of a CLEANN run: which samples, their inputs and CLEANN's sets.

Why read the explain run: CLEANN's explanations, graphs and costs are already in DuckDB
(the pipeline computed them); evaluation re-runs inference only for the baselines and
the removal oracle. Samples are the run's ``ok`` samples in the pipeline's order, the
first ``limit`` of the split; samples already evaluated for every requested explainer
are skipped, so a re-run resumes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from cleann.errors import BadInputError
from cleann.metrics.settings import EvalSettings, describe_machine
from cleann.pipeline.explain import select_samples
from cleann.pipeline.params import ExplainParams
from cleann.store.runs import Staging, batch_id_for, default_staging_root, get_run, open_db

# CLEANN's cost per sample, from typed columns of its explain run (never from the
# stage_seconds JSON): seconds = samples.seconds, the sample's inference share + graph +
# search + tester time; the parts are sums over the sample's explain_heads rows; what is
# left of seconds is the inference share. tests/evaluation/test_cost.py checks the names.
CLEANN_COST_SQL = """
    SELECT s.sample_id,
           s.seconds AS cleann_seconds,
           h.graph_s AS cleann_graph_seconds,
           h.search_s AS cleann_search_seconds,
           h.tester_s AS cleann_model_seconds,
           s.seconds - (h.graph_s + h.search_s + h.tester_s) AS cleann_infer_seconds,
           coalesce(s.model_rows, h.tester_calls) AS tester_rows,
           s.explain_status AS cleann_status,
           (SELECT e.positions FROM explanations e WHERE e.run_id = s.run_id
             AND e.sample_id = s.sample_id AND e.explainer = 'cleann' AND e.rank = 0) AS positions
    FROM samples s
    LEFT JOIN (SELECT sample_id, sum(graph_s) AS graph_s, sum(search_s) AS search_s,
                      sum(tester_s) AS tester_s, sum(tester_calls) AS tester_calls
               FROM explain_heads WHERE run_id = $1 GROUP BY sample_id) h USING (sample_id)
    WHERE s.run_id = $1 AND s.status = 'ok'"""
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
        done = con.execute(CLEANN_COST_SQL, [run_id]).df()
        markers = list(settings.explainers)
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
    frame = frame.assign(positions=[_int_list(p) for p in frame["positions"]])
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
