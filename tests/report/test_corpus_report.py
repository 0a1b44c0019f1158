"""Corpus page, markdown artifact: on a real tiny run (word-piece vocabulary), every number
shown is the database's, no word piece appears, and the page is offline."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "pipeline"))

from pipeline_helpers import NEGATIVE, POSITIVE, make_text_db  # noqa: E402

TEXTS = ["good movies", "bad films but fun", "the plot was boring , awful", "great acting , badly told",
         "fun movies !", "it was not good", "dull , dull films", "brilliant and great", "good fun , good films",
         "bad movies , bad acting", "awful films", "great movies"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from cleann.models.tiny import make_tiny_classifier
    from cleann.pipeline import explain
    from cleann.pipeline.params import ExecParams, ExplainParams

    tmp = tmp_path_factory.mktemp("corpus")
    model = make_tiny_classifier(tmp / "m", words=["##s", "##ly", "told"], positive_words=POSITIVE,
                                 negative_words=NEGATIVE)
    db = make_text_db(tmp / "c.duckdb", TEXTS + [" "])
    # search="head": every head searched to its own minimal sets, so head agreement has pairs.
    summary = explain.run_local(ExplainParams(corpus_name="tiny", num_samples=768, search="head"), ExecParams(),
                               model, db)
    return db, summary.run_id


def _truth(db, run_id):
    con = duckdb.connect(str(db), read_only=True)
    ok, failed, found = con.execute(
        "SELECT count(*) FILTER (WHERE status = 'ok'), count(*) FILTER (WHERE status = 'failed'), "
        "count(*) FILTER (WHERE best_size IS NOT NULL) FROM samples WHERE run_id = ?", [run_id]).fetchall()[0]
    sizes = dict(con.execute("SELECT coalesce(best_size::VARCHAR, 'none'), count(*) FROM samples "
                             "WHERE run_id = ? AND status = 'ok' GROUP BY 1", [run_id]).fetchall())
    con.close()
    return ok, failed, found, sizes


def test_markdown_summary(run):
    from cleann.report.artifact import run_summary_markdown, wilson

    db, run_id = run
    ok, failed, found, sizes = _truth(db, run_id)
    con = duckdb.connect(str(db), read_only=True)
    md = run_summary_markdown(con, run_id, top=3, min_support=2)
    con.close()
    lo, hi = wilson(found, ok)
    assert f"samples explained: **{ok}** (failed: {failed})" in md and failed == 1
    assert f"explanation found: **{found}** = {100 * found / ok:.1f} % (95 % CI {100 * lo:.1f} % – {100 * hi:.1f} %)" in md
    for size, n in sizes.items():
        label = "none found" if size == "none" else size
        assert f"| {label} | {n} | {100 * n / ok:.1f} % |" in md
    rows = [line for line in md.splitlines() if line.startswith("| negative") or line.startswith("| positive")]
    assert rows and not re.search(r"\| *##", md)  # no word piece in any cell
    assert {r.split("|")[1].strip() for r in rows} <= {"negative (0)", "positive (1)"}
    assert max(sum(1 for r in rows if r.startswith(f"| {c}")) for c in ("negative", "positive")) <= 3
    # Each row's rate and interval agree with the query the row comes from.
    from cleann.store.queries import run_query

    top = run_query("causal_tokens", db, run_id, {"min_support": 2, "top": 3})
    for r in top.itertuples(index=False):
        assert f"| {r.word} | {r.support} | {r.causal_count} | {r.causal_rate:.2f} [{r.rate_low:.2f}, " \
               f"{r.rate_high:.2f}] |" in md


def test_markdown_says_when_nothing_is_frequent_enough(run):
    from cleann.report.artifact import run_summary_markdown

    db, run_id = run
    con = duckdb.connect(str(db), read_only=True)
    md = run_summary_markdown(con, run_id, min_support=1000)
    con.close()
    assert "No word occurs 1000+ times" in md


def test_corpus_page_is_offline_and_shows_the_run(run, tmp_path):
    from cleann.report import write_report
    from cleann.report.data import load_corpus_data
    from cleann.report.html import render_corpus_page

    db, run_id = run
    ok, failed, found, _ = _truth(db, run_id)
    written = write_report(run_id, tmp_path / "corpus.html", db).read_text()  # not evaluated: corpus page alone
    con = duckdb.connect(str(db), read_only=True)
    data = load_corpus_data(con, run_id, min_support=2)
    con.close()
    for html, top in ((written, 0), (render_corpus_page(data), data.top["group"].nunique())):
        assert html.startswith("<!DOCTYPE html>") and 'id="corpus"' in html and "##" not in html
        assert not re.search(r"(src|href)\s*=|https?://|<script", html.replace("http://www.w3.org", ""))
        assert f"{ok} samples explained, {failed} failed; an explanation was found for {found}" in html
        assert html.count('<svg class="chart"') == max(1, top) + 3  # forest per class + 3 charts
        assert "Head agreement" in html and "Causal vs most-attended" in html
    assert top == 2 and len(data.top) > 2
    heads = set(data.agreement["head_a"]) | set(data.agreement["head_b"])
    assert heads == {0, 1}  # the tiny model has two heads
    assert html.count("<rect") > 4 and html.count("<circle") >= len(data.top) + len(data.scatter)
    for r in data.top.itertuples(index=False):
        assert f"<td>{r.label}</td><td>{r.support}</td><td>{r.causal_count}</td>" in html


def test_scatter_rates_match_the_words_view(run):
    from cleann.report.data import load_corpus_data

    db, run_id = run
    con = duckdb.connect(str(db), read_only=True)
    data = load_corpus_data(con, run_id, min_support=2)
    words = con.execute("SELECT word, in_explanation, attended FROM words WHERE run_id = ? AND has_explanation",
                        [run_id]).df()
    con.close()
    for r in data.scatter.itertuples(index=False):
        w = words[words["word"] == r.label]
        assert len(w) == r.support >= 2
        assert r.causal_rate == pytest.approx(w["in_explanation"].mean())
        assert r.attended_rate == pytest.approx(w["attended"].astype(float).mean())


def test_charts_handle_empty_inputs():
    import pandas as pd

    from cleann.report.corpus import heatmap, interval_chart, scatter

    for svg in (interval_chart("t", pd.DataFrame()), heatmap("h", pd.DataFrame()), scatter("s", pd.DataFrame())):
        assert svg.startswith("<svg") and 'class="note"' in svg
