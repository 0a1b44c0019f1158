"""Each named query on a hand-built database returns exactly the expected rows."""
from __future__ import annotations

import json
import math
from datetime import datetime

import pandas as pd
import pytest

from cleann.store.queries import list_queries, run_query
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
         "corpus_kind": "movielens", "corpus_name": "ml-t", "corpus_split": "test", "started_at": datetime(2026, 1, 2)},
        {"run_id": "s2", "kind": "sentiment", "corpus": "imdb:tiny:test", "status": "completed",
         "started_at": datetime(2025, 12, 31)},
    ]))
    insert_frame(con, "samples", _frame([
        {"sample_id": "A", "pred": 1, "status": "ok", "best_size": 1},
        {"sample_id": "B", "pred": 1, "status": "ok", "best_size": 1},
        {"sample_id": "C", "pred": 0, "status": "ok", "best_size": 1},
        {"sample_id": "D", "pred": 1, "status": "ok", "best_size": 1},
        {"sample_id": "F", "status": "failed", "error": "BadInputError: empty text"},
        {"sample_id": "G", "status": "failed", "error": "ValueError: x\nmore detail"},
    ], run_id="s1"))
    insert_frame(con, "samples", _frame([{"sample_id": "1", "pred": 99, "status": "ok"},
                                         {"sample_id": "2", "pred": 98, "status": "ok"}], run_id="r1"))
    tok = []
    # D has a word in three pieces (case kept in the token text to check case-folding) and punctuation.
    pieces = {"A": [["good"], ["movie"]], "B": [["good"], ["fun"], ["movie"]], "C": [["bad"], ["movie"]],
              "D": [["Un", "##believ", "##able"], [","], ["fun"]]}
    for sid, words in pieces.items():
        seq = [("[CLS]", None)] + [(piece, w) for w, word in enumerate(words) for piece in word] + [("[SEP]", None)]
        tok += [{"sample_id": sid, "pos": p, "token": t, "word_idx": w, "is_special": t.startswith("[")}
                for p, (t, w) in enumerate(seq)]
    text_tokens = len(tok)
    tok += [{"sample_id": "1", "pos": p, "token_id": i, "token": str(i), "word_idx": p, "is_special": p == 2}
            for p, i in enumerate([10, 11, 12])]
    tok += [{"sample_id": "2", "pos": p, "token_id": i, "token": str(i), "word_idx": p, "is_special": p == 2}
            for p, i in enumerate([11, 12, 10])]
    insert_frame(con, "tokens", _frame(tok[:text_tokens], run_id="s1"))
    insert_frame(con, "tokens", _frame(tok[text_tokens:], run_id="r1"))
    e = [  # (sample, head, rank, positions)
        ("A", 0, 0, [1]), ("A", 0, 1, [1]), ("A", 1, 1, [1, 2]),
        ("B", 1, 0, [2]), ("B", 0, 1, [1, 2]), ("B", 1, 1, [2]),
        ("C", 0, 0, [1]), ("C", 0, 1, [1]),
        ("D", 0, 0, [2]), ("D", 0, 1, [2]),
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
        {"sample_id": "D", "head": 0, "min_size": 1, "top_attended": [5, 3, 4]},
    ], run_id="s1"))
    # s2: a second sentiment run sharing A, B, C with s1 (D only in s1, E only in s2).
    insert_frame(con, "samples", _frame([
        {"sample_id": "A", "pred": 1, "status": "ok", "best_size": 2}, {"sample_id": "B", "pred": 1, "status": "ok"},
        {"sample_id": "C", "pred": 0, "status": "ok", "best_size": 1}, {"sample_id": "E", "pred": 0, "status": "ok"},
    ], run_id="s2"))
    insert_frame(con, "tokens", pd.DataFrame([{**t, "run_id": "s2"} for t in tok[:text_tokens]
                                              if t["sample_id"] in "ABC"]))
    insert_frame(con, "explanations", pd.DataFrame([
        {"run_id": "s2", "sample_id": sid, "head": 0, "explainer": "cleann", "rank": r, "positions": p,
         "size": len(p)} for sid, p in (("A", [1, 2]), ("C", [1])) for r in (0, 1)]))
    insert_frame(con, "items", pd.DataFrame({
        "corpus": "ml-t", "item_id": [10, 11, 12], "title": ["Alpha", "Beta", "Gamma"],
        "genres": [["Drama"], ["Comedy", "Drama"], ["Comedy"]]}))
    con.close()
    return db


def rows(db, name, run=None, **params):
    frame = run_query(name, db, run, params)
    return [tuple(None if pd.isna(v) else v for v in r) if not isinstance(r, list) else r
            for r in frame.itertuples(index=False, name=None)]


Z = 1.959964


def wilson(k, n):
    """Wilson score interval, written out independently of the SQL macros."""
    p, z2 = k / n, Z * Z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return centre - half, centre + half


def newcombe(k1, n1, k2, n2):
    (l1, u1), (l2, u2), d = wilson(k1, n1), wilson(k2, n2), k1 / n1 - k2 / n2
    return d - math.hypot(k1 / n1 - l1, u2 - k2 / n2), d + math.hypot(u1 - k1 / n1, k2 / n2 - l2)


def newcombe_paired(n11, n10, n01, n00):
    n = n11 + n10 + n01 + n00
    p1, p2 = (n11 + n10) / n, (n11 + n01) / n
    (l1, u1), (l2, u2) = wilson(n11 + n10, n), wilson(n11 + n01, n)
    den = (n11 + n10) * (n01 + n00) * (n11 + n01) * (n10 + n00)
    phi = (n11 * n00 - n10 * n01) / math.sqrt(den) if den else 0.0
    d = p1 - p2
    return (d - math.sqrt(max(0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2)),
            d + math.sqrt(max(0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2)))


def r4(*values):
    return tuple(round(v, 4) for v in values)


def test_every_query_has_a_header():
    queries = list_queries()
    assert {"causal_tokens", "causal_not_attended", "explanation_sizes", "head_agreement", "rec_causal_movies",
            "rec_causal_genres", "replacement_rank", "failures", "runs", "compare_runs"} <= set(queries)
    assert all(q.description and q.kind for q in queries.values())


def test_interval_macros_match_published_values(qdb):
    con = connect(qdb, read_only=True)
    try:
        got = con.execute("SELECT wilson_low(81, 263), wilson_high(81, 263), newcombe_low(56, 70, 48, 80), "
                          "newcombe_high(56, 70, 48, 80), wilson_low(0, 0)").fetchall()[0]
        # Newcombe (1998), Stat Med 17:857: Wilson 81/263 = 0.2553-0.3662; 56/70 - 48/80 = 0.0524-0.3339.
        assert r4(*got[:4]) == (0.2553, 0.3662, 0.0524, 0.3339) and got[4] is None
        for table in [(36, 12, 2, 0), (5, 5, 0, 0), (3, 1, 4, 9), (0, 2, 0, 0), (10, 0, 0, 10)]:
            sql = con.execute("SELECT newcombe_paired_low(?, ?, ?, ?), newcombe_paired_high(?, ?, ?, ?)",
                              [*table, *table]).fetchall()[0]
            ref = newcombe_paired(*table)
            assert sql == pytest.approx(ref, abs=1e-7), table  # z^2 rounded to 3.841459 in SQL
            assert ref[0] <= (table[1] - table[2]) / sum(table) <= ref[1]
    finally:
        con.close()


def test_words_view_merges_pieces_and_flags(qdb):
    con = connect(qdb, read_only=True)
    got = con.execute("SELECT sample_id, word_idx, word, positions, in_explanation, explanation_words, n_words, "
                      "attention_rank, attended, chance FROM words WHERE run_id = 's1' ORDER BY ALL").fetchall()
    con.close()
    third = 1 / 3
    assert got == [
        ("A", 0, "good", [1], True, 1, 2, 2, False, 0.5), ("A", 1, "movie", [2], False, 1, 2, 1, True, 0.5),
        ("B", 0, "good", [1], False, 1, 3, None, False, third), ("B", 1, "fun", [2], True, 1, 3, 1, True, third),
        ("B", 2, "movie", [3], False, 1, 3, 2, False, third),
        ("C", 0, "bad", [1], True, 1, 2, 1, True, 0.5), ("C", 1, "movie", [2], False, 1, 2, 2, False, 0.5),
        ("D", 0, "unbelievable", [1, 2, 3], True, 1, 3, 2, False, third),
        ("D", 1, ",", [4], False, 1, 3, 3, False, third), ("D", 2, "fun", [5], False, 1, 3, 1, True, third),
    ]


def test_causal_tokens_words_with_intervals_and_lift(qdb):
    def row(cls, word, n, k, base):
        return (cls, word, n, k, round(k / n, 4), *r4(*wilson(k, n)), round(base, 4), round(k / n / base, 2))

    third = 1 / 3
    assert rows(qdb, "causal_tokens", min_support=1) == [
        row(0, "bad", 1, 1, 0.5),
        row(1, "unbelievable", 1, 1, third), row(1, "fun", 2, 1, third), row(1, "good", 2, 1, (0.5 + third) / 2)]
    assert rows(qdb, "causal_tokens", min_support=2) == [row(1, "fun", 2, 1, third),
                                                         row(1, "good", 2, 1, (0.5 + third) / 2)]
    assert rows(qdb, "causal_tokens") == []  # default minimum support 5: nothing here is that frequent


def test_causal_not_attended(qdb):
    def row(word, n11, n10, n01, n00, base):
        n = n11 + n10 + n01 + n00
        c, a = n11 + n10, n11 + n01
        return (word, n, c, round(c / n, 4), *r4(*wilson(c, n)), a, round(a / n, 4), *r4(*wilson(a, n)),
                round((n10 - n01) / n, 4), *r4(*newcombe_paired(n11, n10, n01, n00)), round(base, 4),
                round(c / n / base, 2))

    # good: causal, not attended in A (k = 1: A's head attends to movie first); neither in B.
    # unbelievable: causal in D, attended 2nd (k = 1). fun: attended more often than causal -> left out.
    expected = [row("unbelievable", 0, 1, 0, 0, 1 / 3), row("good", 0, 1, 0, 1, (0.5 + 1 / 3) / 2)]
    assert sorted(expected, key=lambda r: -r[12]) == expected  # ranked by the gap's lower bound
    assert rows(qdb, "causal_not_attended", min_support=1, min_causal=1) == expected
    assert rows(qdb, "causal_not_attended", min_support=2, min_causal=1) == expected[1:]
    assert rows(qdb, "causal_not_attended", min_support=1, min_causal=1, max_attended_rate=0.0) == expected


def test_compare_runs(qdb):
    def paired(section, item, n11, n10, n01, n00):
        n, ka, kb = n11 + n10 + n01 + n00, n11 + n10, n11 + n01
        return (section, item, n, ka, round(ka / n, 4), *r4(*wilson(ka, n)), n, kb, round(kb / n, 4),
                *r4(*wilson(kb, n)), round(ka / n - kb / n, 4), *r4(*newcombe_paired(n11, n10, n01, n00)))

    def word(w, na, ka, nb, kb):
        return ("word", w, na, ka, round(ka / na, 4), *r4(*wilson(ka, na)), nb, kb, round(kb / nb, 4),
                *r4(*wilson(kb, nb)), round(ka / na - kb / nb, 4), *r4(*newcombe(ka, na, kb, nb)))

    # Shared samples A, B, C. s1 explains all three with one token; s2 explains A with 2 tokens, C with 1.
    words = [word("bad", 1, 1, 1, 1), word("fun", 1, 1, 1, 0), word("good", 2, 1, 2, 1), word("movie", 3, 0, 3, 1)]
    words.sort(key=lambda r: (-max(r[-2], -r[-1]), -abs(r[-3]), r[1]))
    got = rows(qdb, "compare_runs", run_a="s1", run_b="s2", min_support=1)
    assert got == [paired("found", "explained", 2, 1, 0, 0), paired("size", "1", 1, 2, 0, 0),
                   paired("size", "2", 0, 0, 1, 2), paired("size", "none", 0, 0, 1, 2), *words]
    assert [r[1] for r in rows(qdb, "compare_runs", run_a="s1", run_b="s2", min_support=1, top=1)[4:]] == \
        [words[0][1]]
    assert [r[0] for r in rows(qdb, "compare_runs", run_a="s1", run_b="s2")] == ["found", "size", "size", "size"]


def test_no_word_piece_in_word_level_output(qdb):
    for name in ("causal_tokens", "causal_not_attended"):
        frame = run_query(name, qdb, "s1", {"min_support": 1} if name == "causal_tokens" else
                          {"min_support": 1, "min_causal": 1})
        assert len(frame) and not frame["word"].str.contains("##").any()
    frame = run_query("compare_runs", qdb, None, {"run_a": "s1", "run_b": "s2", "min_support": 1})
    assert not frame["item"].str.contains("##").any()


def test_run_params_are_checked_and_stay_text(qdb, capsys):
    from cleann.cli import main
    from cleann.errors import BadInputError
    from cleann.store.queries import parse_param

    assert parse_param("run_a", "1234e567") == "1234e567" and parse_param("top", "7") == 7
    with pytest.raises(BadInputError, match="run 'nope' \\(run_b\\) is not in the database"):
        run_query("compare_runs", qdb, None, {"run_a": "s1", "run_b": "nope"})
    with pytest.raises(BadInputError, match="needs parameter 'run_a'"):
        run_query("compare_runs", qdb, None, {})
    assert main(["query", "compare_runs", "--db", str(qdb), "--param", "run_a=s1", "--param", "run_b=12e4"]) == 2
    assert "12e4" in capsys.readouterr().err


def test_read_only_database_without_the_words_migration(tmp_path, qdb):
    import shutil

    db = tmp_path / "old.duckdb"
    shutil.copy(qdb, db)
    con = connect(db)
    con.execute("DROP VIEW words")
    for macro in ("newcombe_paired_low", "newcombe_paired_high", "newcombe_phi", "newcombe_low", "newcombe_high",
                  "wilson_low", "wilson_high"):
        con.execute(f"DROP MACRO {macro}")
    con.execute("DELETE FROM schema_version WHERE version = 301")
    con.close()
    assert rows(db, "causal_tokens", "s1", min_support=2) == rows(qdb, "causal_tokens", "s1", min_support=2)


def test_explanation_sizes(qdb):
    assert rows(qdb, "explanation_sizes") == []  # "any" query: defaults to the newest run (r1)

    def row(cls, head, size, k, n):
        return (cls, head, size, k, round(k / n, 4), *r4(*wilson(k, n)))

    assert rows(qdb, "explanation_sizes", run="s1") == [
        row(0, 0, 1, 1, 1), row(0, 1, None, 1, 1),
        row(1, 0, 1, 2, 3), row(1, 0, 2, 1, 3), row(1, 1, 1, 1, 2), row(1, 1, 2, 1, 2)]


def test_head_agreement(qdb):
    assert rows(qdb, "head_agreement", run="s1") == [(0, 1, 2, 0.5, 0.0, *r4(*wilson(0, 2)))]


def test_failures_by_reason(qdb):
    frame = run_query("failures", qdb, "s1")
    assert frame["reason"].tolist() == ["BadInputError: empty text", "ValueError: x"]
    assert frame["n_samples"].tolist() == [1, 1] and list(frame["examples"][1]) == ["G"]


def test_rec_movies_genres_and_replacement_rank(qdb):
    def row(key, n, k, base, title=()):
        return (key, *title, n, k, round(k / n, 4), *r4(*wilson(k, n)), round(base, 4), round(k / n / base, 2))

    # user 1: items 10, 11 (12 is the appended target), best set {10}: chance 1/2.
    # user 2: items 11, 12, best set {11, 12}: chance 1.
    assert rows(qdb, "rec_causal_movies", min_support=1) == [
        row(10, 1, 1, 0.5, ("Alpha",)), row(12, 1, 1, 1.0, ("Gamma",)), row(11, 2, 1, 0.75, ("Beta",))]
    assert rows(qdb, "rec_causal_genres", min_support=1) == [row("Comedy", 3, 2, 2.5 / 3), row("Drama", 3, 2, 2 / 3)]
    assert rows(qdb, "replacement_rank") == [(2, 1, 0.5, *r4(*wilson(1, 2)), 0.5), (None, 1, 0.5, *r4(*wilson(1, 2)), 1.0)]


def test_runs_lists_all(qdb):
    frame = run_query("runs", qdb)
    assert frame["run_id"].tolist() == ["r1", "s1", "s2"] and frame["failed"].tolist() == [0, 2, 0]


def test_cli_formats_and_errors(qdb, capsys):
    from cleann.cli import main

    assert main(["query", "failures", "--run", "s1", "--db", str(qdb), "--format", "json"]) == 0
    assert [r["reason"] for r in json.loads(capsys.readouterr().out)] == ["BadInputError: empty text", "ValueError: x"]
    assert main(["query", "causal_tokens", "--db", str(qdb), "--format", "csv", "--param", "min_support=2",
                 "--param", "top=1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "predicted_class,word,support,causal_count,causal_rate,rate_low,rate_high,base_rate,lift"
    assert [line.split(",")[:4] for line in out[1:]] == [["1", "fun", "2", "1"]]
    assert main(["query", "--list"]) == 0 and "compare_runs" in capsys.readouterr().out
    assert main(["query", "nope", "--db", str(qdb)]) == 2
    assert main(["query", "failures", "--db", str(qdb), "--param", "zzz=1"]) == 2


def test_query_waits_for_a_writer_then_reads(qdb):
    import subprocess
    import sys
    import time

    from cleann.store.runs import DatabaseBusyError

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
        with pytest.raises(DatabaseBusyError, match="still locked|gave up waiting"):
            run_query("failures", qdb, "s1", wait_s=0.5)
    finally:
        proc.kill()
        proc.wait(timeout=30)


PIECE_TEXTS = ["good movies", "bad films but fun", "the plot was boring , awful", "great acting , badly told",
               "fun movies !", "it was not good", "dull , dull films", "brilliant and great"]


@pytest.mark.parametrize("nodes", ["all", "words"])
def test_real_run_words_have_no_pieces(tmp_path, nodes):
    """A tiny lexicon model whose vocabulary splits words into pieces (movie ##s, bad ##ly):
    the words view rebuilds the text's words, and no word-level output shows a piece."""
    import re

    from cleann.models.tiny import make_tiny_classifier
    from cleann.pipeline import explain
    from cleann.pipeline.params import ExecParams, ExplainParams

    from pipeline_helpers import NEGATIVE, POSITIVE, make_text_db

    model = make_tiny_classifier(tmp_path / "m", words=["##s", "##ly", "told"], positive_words=POSITIVE,
                                 negative_words=NEGATIVE)
    db = make_text_db(tmp_path / "w.duckdb", PIECE_TEXTS)
    summary = explain.run_local(ExplainParams(corpus_name="tiny", num_samples=768, nodes=nodes), ExecParams(),
                               model, db)
    con = connect(db, read_only=True)
    pieces = con.execute("SELECT count(*) FROM tokens WHERE run_id = ? AND token LIKE '##%'",
                         [summary.run_id]).fetchall()[0][0]
    got = con.execute("SELECT d.text, list(w.word ORDER BY w.word_idx) FROM words w JOIN documents d "
                      "ON d.doc_id = w.sample_id WHERE w.run_id = ? GROUP BY d.text", [summary.run_id]).fetchall()
    flags = con.execute("SELECT w.in_explanation, len(list_intersect(w.positions, e.positions)) > 0 FROM words w "
                        "JOIN explanations e ON e.run_id = w.run_id AND e.sample_id = w.sample_id AND e.rank = 0 "
                        "WHERE w.run_id = ?", [summary.run_id]).fetchall()
    con.close()
    assert pieces >= 5  # movies, films (x2), badly, movies
    assert dict(got) == {t: re.findall(r"\w+|[^\w\s]", t.lower()) for t in PIECE_TEXTS}
    assert flags and all(a == b for a, b in flags) and any(a for a, _ in flags)
    for name, params in (("causal_tokens", {"min_support": 1}),
                         ("causal_not_attended", {"min_support": 1, "min_causal": 1})):
        frame = run_query(name, db, summary.run_id, params)
        assert len(frame) or name == "causal_not_attended"
        assert not frame["word"].str.contains("#").any()
        low, high = frame.columns[frame.columns.get_loc("causal_rate") + 1:][:2]
        assert ((frame[low] <= frame["causal_rate"]) & (frame["causal_rate"] <= frame[high])).all()
