"""Row snapshots of fixed explain and evaluate runs on the tiny models (issue 13: same rows).

Why: the staged-job redesign must leave the database rows of a run unchanged. The JSON in
``data/rows_snapshot.json`` was written by this module with the code of commit a289720
(before the redesign): ``python tests/pipeline/row_snapshot.py OUT.json``. The test
``test_run_local.py::test_rows_match_the_snapshot_from_before_the_redesign`` runs the same
runs with today's code and compares. Timings, batch names, machine and dates are left out
(they differ per run); floats are rounded (``pipeline_helpers._rounded``). Only the columns
in the snapshot are compared, so a later migration that adds a column does not break it.
"""
from __future__ import annotations

import json
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
    return {"text": {"run_id": text.run_id, "db": text_db}, "rec": {"run_id": rec.run_id, "db": rec_db}}


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


def main(out: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs = make_runs(folder, *tiny_models(folder))
        data = {name: {"run_id": r["run_id"], "rows": snapshot_rows(r["db"], r["run_id"])}
                for name, r in runs.items()}
    Path(out).write_text(json.dumps(data, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {out}: " + ", ".join(f"{k} {v['run_id']} "
                                         f"({sum(len(t['rows']) for t in v['rows'].values())} rows)"
                                         for k, v in data.items()))


if __name__ == "__main__":
    main(sys.argv[1])
