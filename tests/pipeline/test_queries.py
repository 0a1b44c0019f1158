"""Each named query on a hand-built database returns exactly the expected rows."""
from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import pytest

from cleann.pipeline.queries import list_queries, run_query
from cleann.store.db import connect, insert_frame


def _frame(rows, **const):
    return pd.DataFrame([{**const, **r} for r in rows])


@pytest.fixture(scope="module")
def qdb(tmp_path_factory):
    db = tmp_path_factory.mktemp("q") / "q.duckdb"
    con = connect(db)
    insert_frame(con, "runs", pd.DataFrame([
        {"run_id": "s1", "kind": "sentiment", "corpus": "imdb:tiny:test", "status": "partial",
         "started_at": datetime(2026, 1, 1)},
        {"run_id": "r1", "kind": "rec", "corpus": "movielens:ml-t:test", "status": "completed",
         "started_at": datetime(2026, 1, 2)},
    ]))
    insert_frame(con, "samples", _frame([
        {"sample_id": "A", "pred": 1, "status": "ok"}, {"sample_id": "B", "pred": 1, "status": "ok"},
        {"sample_id": "C", "pred": 0, "status": "ok"},
        {"sample_id": "F", "status": "failed", "error": "BadInputError: empty text"},
        {"sample_id": "G", "status": "failed", "error": "ValueError: x\nmore detail"},
    ], run_id="s1"))
    insert_frame(con, "samples", _frame([{"sample_id": "1", "pred": 99, "status": "ok"},
                                         {"sample_id": "2", "pred": 98, "status": "ok"}], run_id="r1"))
    tok = []
    for sid, words in {"A": ["good", "movie"], "B": ["good", "fun", "movie"], "C": ["bad", "movie"]}.items():
        seq = ["[CLS]", *words, "[SEP]"]
        tok += [{"sample_id": sid, "pos": p, "token": t, "is_special": t.startswith("[")} for p, t in enumerate(seq)]
    text_tokens = len(tok)
    tok += [{"sample_id": "1", "pos": p, "token_id": i, "token": str(i), "is_special": p == 2}
            for p, i in enumerate([10, 11, 12])]
    tok += [{"sample_id": "2", "pos": p, "token_id": i, "token": str(i), "is_special": p == 2}
            for p, i in enumerate([11, 12, 10])]
    insert_frame(con, "tokens", _frame(tok[:text_tokens], run_id="s1"))
    insert_frame(con, "tokens", _frame(tok[text_tokens:], run_id="r1"))
    e = [  # (sample, head, rank, positions)
        ("A", 0, 0, [1]), ("A", 0, 1, [1]), ("A", 1, 1, [1, 2]),
        ("B", 1, 0, [2]), ("B", 0, 1, [1, 2]), ("B", 1, 1, [2]),
        ("C", 0, 0, [1]), ("C", 0, 1, [1]),
    ]
    insert_frame(con, "explanations", pd.DataFrame([
        {"run_id": "s1", "sample_id": s, "head": h, "explainer": "cleann", "rank": r, "positions": p, "size": len(p)}
        for s, h, r, p in e]))
    insert_frame(con, "explanations", pd.DataFrame([
        {"run_id": "r1", "sample_id": "1", "head": 0, "explainer": "cleann", "rank": 0, "positions": [0], "size": 1,
         "replacement_rank": 2},
        {"run_id": "r1", "sample_id": "2", "head": 1, "explainer": "cleann", "rank": 0, "positions": [0, 1],
         "size": 2, "replacement_rank": None},
    ]))
    insert_frame(con, "explain_heads", _frame([
        {"sample_id": "A", "head": 0, "min_size": 1, "top_attended": [2, 1]},
        {"sample_id": "A", "head": 1, "min_size": 2, "top_attended": [1, 2]},
        {"sample_id": "B", "head": 0, "min_size": 2, "top_attended": [1, 2]},
        {"sample_id": "B", "head": 1, "min_size": 1, "top_attended": [2, 3]},
        {"sample_id": "C", "head": 0, "min_size": 1, "top_attended": [1, 2]},
        {"sample_id": "C", "head": 1, "min_size": None, "top_attended": [2, 1]},
    ], run_id="s1"))
    insert_frame(con, "items", pd.DataFrame({
        "corpus": "ml-t", "item_id": [10, 11, 12], "title": ["Alpha", "Beta", "Gamma"],
        "genres": [["Drama"], ["Comedy", "Drama"], ["Comedy"]]}))
    con.close()
    return db


def rows(db, name, run=None, **params):
    frame = run_query(name, db, run, params)
    return [tuple(None if pd.isna(v) else v for v in r) if not isinstance(r, list) else r
            for r in frame.itertuples(index=False, name=None)]


def test_every_query_has_a_header():
    queries = list_queries()
    assert {"causal_tokens", "causal_not_attended", "explanation_sizes", "head_agreement", "rec_causal_movies",
            "rec_causal_genres", "replacement_rank", "failures", "runs"} <= set(queries)
    assert all(q.description and q.kind for q in queries.values())


def test_causal_tokens_with_support_and_rate(qdb):
    assert rows(qdb, "causal_tokens", min_support=1) == [
        (0, "bad", 1, 1, 1.0), (1, "fun", 1, 1, 1.0), (1, "good", 2, 1, 0.5)]
    assert rows(qdb, "causal_tokens", min_support=2) == [(1, "good", 2, 1, 0.5)]


def test_causal_not_attended(qdb):
    assert rows(qdb, "causal_not_attended", min_causal=1, max_attended_rate=0.5) == [("good", 1, 0, 0.0)]


def test_explanation_sizes(qdb):
    assert rows(qdb, "explanation_sizes") == []  # "any" query: defaults to the newest run (r1)
    assert rows(qdb, "explanation_sizes", run="s1") == [
        (0, 0, 1, 1, 1.0), (0, 1, None, 1, 1.0),
        (1, 0, 1, 1, 0.5), (1, 0, 2, 1, 0.5), (1, 1, 1, 1, 0.5), (1, 1, 2, 1, 0.5)]


def test_head_agreement(qdb):
    assert rows(qdb, "head_agreement", run="s1") == [(0, 1, 2, 0.5, 0.0)]


def test_failures_by_reason(qdb):
    frame = run_query("failures", qdb, "s1")
    assert frame["reason"].tolist() == ["BadInputError: empty text", "ValueError: x"]
    assert frame["n_samples"].tolist() == [1, 1] and list(frame["examples"][1]) == ["G"]


def test_rec_movies_genres_and_replacement_rank(qdb):
    assert rows(qdb, "rec_causal_movies", min_support=1) == [
        (10, "Alpha", 1, 1, 1.0), (12, "Gamma", 1, 1, 1.0), (11, "Beta", 2, 1, 0.5)]
    assert rows(qdb, "rec_causal_genres", min_support=1) == [("Comedy", 3, 2, 0.6667), ("Drama", 3, 2, 0.6667)]
    assert rows(qdb, "replacement_rank") == [(2, 1, 0.5, 0.5), (None, 1, 0.5, 1.0)]


def test_runs_lists_both(qdb):
    frame = run_query("runs", qdb)
    assert frame["run_id"].tolist() == ["r1", "s1"] and frame["failed"].tolist() == [0, 2]


def test_cli_formats_and_errors(qdb, capsys):
    from cleann.cli import main

    assert main(["query", "failures", "--run", "s1", "--db", str(qdb), "--format", "json"]) == 0
    assert [r["reason"] for r in json.loads(capsys.readouterr().out)] == ["BadInputError: empty text", "ValueError: x"]
    assert main(["query", "causal_tokens", "--db", str(qdb), "--format", "csv", "--param", "min_support=2"]) == 0
    assert capsys.readouterr().out.splitlines() == ["predicted_class,token,support,causal_count,causal_rate",
                                                    "1,good,2,1,0.5"]
    assert main(["query", "--list"]) == 0 and "head_agreement" in capsys.readouterr().out
    assert main(["query", "nope", "--db", str(qdb)]) == 2
    assert main(["query", "failures", "--db", str(qdb), "--param", "zzz=1"]) == 2


def test_query_waits_for_a_writer_then_reads(qdb):
    import subprocess
    import sys
    import time

    from cleann.pipeline.dbopen import DatabaseBusyError

    hold = ("import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "time.sleep(float(sys.argv[2]))")
    proc = subprocess.Popen([sys.executable, "-c", hold, str(qdb), "1.5"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    t0 = time.monotonic()
    frame = run_query("failures", qdb, "s1", wait_s=20)
    assert len(frame) == 2 and time.monotonic() - t0 > 0.5  # it waited for the writer to let go
    proc.wait(timeout=30)

    proc = subprocess.Popen([sys.executable, "-c", hold, str(qdb), "20"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(DatabaseBusyError, match="still locked"):
            run_query("failures", qdb, "s1", wait_s=0.5)
    finally:
        proc.kill()
        proc.wait(timeout=30)
