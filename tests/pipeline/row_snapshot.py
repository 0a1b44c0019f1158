"""Row snapshots of fixed explain and evaluate runs on the tiny models (issue 13: same rows).

Why: the staged-job redesign must leave the database rows of a run unchanged. The JSON in
``data/rows_snapshot.json`` was written by this module with the code of commit a289720
(before the redesign): ``python tests/pipeline/row_snapshot.py OUT.json``. The test
``test_run_local.py::test_rows_match_the_snapshot_from_before_the_redesign`` runs the same
runs with today's code and compares. Timings, batch names, machine and dates are left out
(they differ per run); floats are rounded (``pipeline_helpers._rounded``). Only the columns
in the snapshot are compared, so a later migration that adds a column does not break it.

What is compared is what the rows mean, not bytes (issue 20): the run id hashes the tiny
model's files, and those differ between machines for reasons that are no pipeline change
(``config.json`` records the installed transformers version; torch's seeded random weights
differ in their last bits between CPU instruction sets), so the run id column is compared
as "this run's id", floats within ``REL_TOL``/``ABS_TOL``, and everything else (sets,
marks, counts, positions, tokens, statuses) exactly. The run id stays pinned another way:
the stored parameter JSON must equal the snapshot's ``params`` (added in issue 20 from
a289720's ``ExplainParams(...).to_json()``, the same text as today's) and the id must be
``sha256(params + "\n" + model_sha256)[:16]``, so a change of either fails here.
"""
from __future__ import annotations

import hashlib
import json
import math
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from pipeline_helpers import NEGATIVE, POSITIVE, TEXTS, _rounded, make_rec_db, make_text_db  # noqa: E402

# Explicit values for everything whose default another issue may change (search, budget).
TEXT = dict(corpus_name="tiny", num_samples=768, search="head", max_set_size=3, max_length=128, max_model_rows=None)
REC = dict(corpus_kind="movielens", corpus_name="ml-tiny", num_samples=768, search="head", max_set_size=2,
           max_model_rows=None)
EVAL = dict(explainers=("attention", "gxi", "ig"), n_steps=8, max_k=3)
# Left out: timings and batch names (differ per run), and samples.forward_passes: how the
# tester groups its model rows into calls is issue 11's to change (the rows themselves,
# model_rows, stay compared).
DROP = {"samples": {"seconds", "stage_seconds", "batch_id", "forward_passes"},
        "explain_heads": {"graph_s", "search_s", "tester_s"},
        "evaluations": {"started_at", "finished_at", "machine", "settings"}}
TIMED_METRICS = ("seconds", "seconds_per_sample", "cost_seconds", "cleann_seconds")
# Floats agree when within 1e-4 relative or absolute: the snapshot keeps 5 decimals, and
# another CPU's kernels move a probability or an attribution by about 1e-6 (seen: 8e-7).
REL_TOL = ABS_TOL = 1e-4
THIS_RUN = "<this run>"  # what a row's run_id column is compared as


def _rows(con, table: str, where: str, args: list, columns: list[str] | None = None) -> dict:
    have = [c for c in con.execute(f"SELECT * FROM {table} LIMIT 0").df().columns
            if c not in DROP.get(table, set())]
    cols = have if columns is None else [c for c in columns if c in have]
    rows = con.execute(f"SELECT {', '.join(cols)} FROM {table} WHERE {where} ORDER BY ALL", args).fetchall()
    return {"columns": cols, "rows": [[_jsonable(v) for v in _rounded(tuple(r))] for r in rows]}


def _jsonable(value):
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def snapshot_rows(db: Path, run_id: str, columns: dict[str, list[str]] | None = None) -> dict:
    """The run's pipeline and evaluation rows (``columns``: restrict to a snapshot's columns)."""
    from cleann.store.db import connect

    columns = columns or {}
    con = connect(db, read_only=True)
    try:
        out = {t: _rows(con, t, "run_id = ?", [run_id], columns.get(t))
               for t in ("samples", "tokens", "graph_edges", "explanations", "explain_heads", "token_scores")}
        timed = ", ".join(f"'{m}'" for m in TIMED_METRICS)
        out["metrics"] = _rows(con, "metrics", f"run_id = ? AND metric NOT IN ({timed}) "
                               "AND metric NOT LIKE '%second%'", [run_id], columns.get("metrics"))
        out["evaluations"] = _rows(con, "evaluations", "run_id = ?", [run_id], columns.get("evaluations"))
    finally:
        con.close()
    return out


def make_runs(folder: Path, text_model: Path, rec_model: Path) -> dict:
    """Run the fixed explain (text, rec) and evaluate (text) jobs; returns id -> rows."""
    from cleann.metrics.evaluate import run_evaluation_local
    from cleann.metrics.settings import EvalSettings
    from cleann.pipeline.explain import run_local
    from cleann.pipeline.params import ExecParams, ExplainParams

    text_db = make_text_db(folder / "text.duckdb")
    text = run_local(ExplainParams(**TEXT), ExecParams(batch_size=4), text_model, text_db)
    run_evaluation_local(text_db, text.run_id, EvalSettings(**EVAL), batch_size=4, command="snapshot")
    rec_db = make_rec_db(folder / "rec.duckdb")
    rec = run_local(ExplainParams(**REC), ExecParams(batch_size=2), rec_model, rec_db)
    return {"text": {"run_id": text.run_id, "db": text_db, "model": text_model},
            "rec": {"run_id": rec.run_id, "db": rec_db, "model": rec_model}}


def tiny_models(folder: Path) -> tuple[Path, Path]:
    """The pipeline tests' tiny models (same arguments as tests/pipeline/conftest.py)."""
    from cleann.models.tiny import make_tiny_bert4rec, make_tiny_classifier

    return (make_tiny_classifier(folder / "clf" / "m", positive_words=POSITIVE, negative_words=NEGATIVE),
            make_tiny_bert4rec(folder / "rec" / "m", n_items=20))


def without_dropped(table: str, snap: dict) -> dict:
    """A snapshot table with the columns of DROP removed (snapshots written before a column
    was dropped keep it)."""
    keep = [i for i, c in enumerate(snap["columns"]) if c not in DROP.get(table, set())]
    return {"columns": [snap["columns"][i] for i in keep], "rows": [[r[i] for i in keep] for r in snap["rows"]]}


def stored_params(db: Path, run_id: str) -> str:
    """The parameter JSON a run was stored with (half of what its id hashes)."""
    from cleann.store.db import connect

    con = connect(db, read_only=True)
    try:
        return con.execute("SELECT params FROM runs WHERE run_id = ?", [run_id]).fetchall()[0][0]
    finally:
        con.close()


def same_value(a, b) -> bool:
    """Equal, floats within the tolerance; lists element by element."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
    if numbers and (isinstance(a, float) or isinstance(b, float)):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return a == b


def _meaning(table: dict, run_id: str) -> list[list]:
    """The rows with the run id column replaced by THIS_RUN (its value must be the run's id)."""
    cols = table["columns"]
    if "run_id" not in cols:
        return table["rows"]
    i = cols.index("run_id")
    return [[THIS_RUN if (j == i and v == run_id) else v for j, v in enumerate(r)] for r in table["rows"]]


def snapshot_differences(runs: dict, snap: dict) -> list[str]:
    """Every way today's runs differ from the snapshot in meaning (empty: the same rows)."""
    from cleann.pipeline.params import model_sha256

    out = []
    for name, run in runs.items():
        expected_run = snap[name]
        params = stored_params(run["db"], run["run_id"])
        if params != expected_run["params"]:
            out.append(f"{name}: parameter JSON {params} != snapshot {expected_run['params']}")
        digest = hashlib.sha256(f"{params}\n{model_sha256(run['model'])}".encode()).hexdigest()[:16]
        if run["run_id"] != digest:
            out.append(f"{name}: run id {run['run_id']} is not sha256(params, model sha256)[:16] = {digest}")
        columns = {t: v["columns"] for t, v in expected_run["rows"].items()}
        now = json.loads(json.dumps(snapshot_rows(run["db"], run["run_id"], columns)))
        for table, expected in expected_run["rows"].items():
            expected = without_dropped(table, expected)
            if now[table]["columns"] != expected["columns"]:
                out.append(f"{name}.{table}: columns {now[table]['columns']} != {expected['columns']}")
                continue
            got, want = _meaning(now[table], run["run_id"]), _meaning(expected, expected_run["run_id"])
            if len(got) != len(want):
                out.append(f"{name}.{table}: {len(got)} rows, snapshot {len(want)}")
            out += [f"{name}.{table} row {k}: {g} != snapshot {w}"
                    for k, (g, w) in enumerate(zip(got, want)) if not same_value(g, w)]
    return out


def main(out: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs = make_runs(folder, *tiny_models(folder))
        data = {name: {"run_id": r["run_id"], "params": stored_params(r["db"], r["run_id"]),
                       "rows": snapshot_rows(r["db"], r["run_id"])}
                for name, r in runs.items()}
    Path(out).write_text(json.dumps(data, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {out}: " + ", ".join(f"{k} {v['run_id']} "
                                         f"({sum(len(t['rows']) for t in v['rows'].values())} rows)"
                                         for k, v in data.items()))


if __name__ == "__main__":
    main(sys.argv[1])
