"""`cleann demo` end to end on tiny models: explained snippets marked, report written, next steps.

Ingest and the default models are replaced by a hand-made corpus (under the default
corpus names) and tiny checkpoints, so this runs offline in seconds; everything after
(explain, evaluate, queries, snippets, report) is the demo's real code path.
"""
from __future__ import annotations

import re

import pandas as pd
import pytest

from cleann.cli import demo
from cleann.cli import main

POSITIVE = ["good", "great", "brilliant", "fun", "love"]
NEGATIVE = ["bad", "awful", "boring", "dull", "terrible", "hate"]
TEXTS = ["a good movie with a bad ending", "the plot was boring and awful", "great acting , bad story but fun",
         "this is fun and good", "it was not good", "brilliant and great but dull"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _fill_db(db):
    from cleann.store.db import connect, insert_frame

    label = [int(sum(w in t.split() for w in POSITIVE) > sum(w in t.split() for w in NEGATIVE)) for t in TEXTS]
    docs = pd.DataFrame({"corpus": "rt_snippets", "doc_id": [f"d{i:02d}" for i in range(len(TEXTS))],
                         "split": "test", "text": TEXTS, "label": label, "source": "test"})
    inter = pd.DataFrame([{"corpus": "ml-100k", "user_id": u, "item_id": (u * 5 + k * 7) % 40 + 1,
                           "rating": 4.0, "ts": k} for u in range(1, 5) for k in range(6 + u)])
    items = pd.DataFrame({"corpus": "ml-100k", "item_id": range(1, 41), "title": [f"Movie {i}" for i in range(1, 41)],
                          "year": 1990, "genres": [["Drama"]] * 40})
    con = connect(db)
    insert_frame(con, "documents", docs)
    insert_frame(con, "interactions", inter.drop_duplicates(["user_id", "item_id"]))
    insert_frame(con, "items", items)
    con.close()


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory):
    from cleann.models.tiny import make_tiny_bert4rec, make_tiny_classifier

    tmp = tmp_path_factory.mktemp("demo")
    db = tmp / "demo.duckdb"
    _fill_db(db)
    models = {"imdb": str(make_tiny_classifier(tmp / "text", positive_words=POSITIVE, negative_words=NEGATIVE)),
              "movielens": str(make_tiny_bert4rec(tmp / "rec", n_items=40, seed=1))}
    mp = pytest.MonkeyPatch()
    mp.setattr(demo, "ingest_defaults", lambda db: print("ingest skipped in the test"))
    mp.setattr(demo, "default_models", lambda: models)
    mp.delenv("NO_COLOR", raising=False)
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["demo", "--db", str(db), "--reviews", "6", "--users", "3", "--no-prefect",
                         "--explainers", "cleann,attention,gxi", "--text-nodes", "all", "--max-set-size", "3",
                         "--report-dir", str(tmp / "reports")])
    finally:
        mp.undo()
    (tmp / "demo_stdout.txt").write_text(out.getvalue())  # kept for a person to read
    return code, out.getvalue(), tmp


def test_demo_prints_marked_snippets_without_colour_when_not_a_tty(demo_output):
    code, out, _ = demo_output
    assert code == 0
    assert not ANSI.search(out)  # StringIO is not a terminal
    block = out.split("Explained snippets", 1)[1].split("\nreport (", 1)[0]
    lines = [line for line in block.splitlines() if line.startswith("  ") and ": " in line
             and not line.lstrip().startswith("causal")]
    assert 1 <= len(lines) <= 3
    for line in lines:
        marked = re.findall(r"\[([^\]]+)\]", line)
        assert marked, line
        # the lexicon model decides on its lexicon words only: every causal word is one of them
        assert all(w in POSITIVE + NEGATIVE for w in marked), line
    assert "most attended (head" in block


def test_demo_writes_the_report_and_prints_its_path_and_next_commands(demo_output):
    _, out, tmp = demo_output
    paths = re.findall(r"^report \((reviews|movielens)\): (\S+)$", out, flags=re.M)
    assert {k for k, _ in paths} == {"reviews", "movielens"}
    for _, path in paths:
        html = open(path, encoding="utf-8").read()
        assert html.lstrip().lower().startswith("<!doctype html") and "http://" not in html.split("<body", 1)[0]
        assert str(tmp / "reports") in path
    tail = out.split("next:", 1)[1]
    for command in ("cleann query", "cleann explain imdb", "cleann evaluate", "cleann report", "file://"):
        assert command in tail


def test_format_example_colours_or_brackets(monkeypatch):
    example = {"pred": 1, "prob": 0.9, "head": 2, "words": [("a", False), ("good", True), ("film", False)],
               "attended": [("film", False), ("good", True)]}
    plain = demo.format_example(example, colour=False)
    assert "a [good] film" in plain and not ANSI.search(plain)
    coloured = demo.format_example(example, colour=True)
    assert ANSI.search(coloured) and "[good]" not in coloured and "good" in ANSI.sub("", coloured)

    class Tty:
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert demo.use_colour(Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not demo.use_colour(Tty())


def test_words_are_joined_back_into_readable_text():
    assert demo._join(["it", "'", "s", "a", "[film]", ",", "can", "'", "t", "miss", "."]) == \
        "it's a [film], can't miss."
