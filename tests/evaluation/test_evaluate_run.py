"""Evaluation of a real (tiny) CLEANN run end to end: stored rows, resume, report HTML."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from cleann.metrics.evaluate import run_evaluation_local
from cleann.metrics.settings import EvalSettings
from cleann.pipeline.explain import run_local
from cleann.pipeline.params import ExecParams, ExplainParams
from cleann.store.db import connect

from evalkit import NEGATIVE, POSITIVE, TEXTS, make_rec_db, make_text_db

TEXT_EXPLAINERS = ("cleann", "attention", "rollout", "gxi", "ig", "shap", "oracle")


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    from cleann.models.tiny import make_tiny_classifier

    tmp = tmp_path_factory.mktemp("evalrun")
    model = make_tiny_classifier(tmp / "model", positive_words=POSITIVE, negative_words=NEGATIVE)
    db = make_text_db(tmp / "e.duckdb")
    params = ExplainParams(corpus_kind="imdb", corpus_name="evaltiny", max_length=32)
    summary = run_local(params, ExecParams(batch_size=3), model, db)
    settings = EvalSettings(explainers=TEXT_EXPLAINERS, n_steps=8, shap_max_evals=40)
    table = run_evaluation_local(db, summary.run_id, settings, batch_size=4, command="pytest")
    return db, summary.run_id, settings, table


def test_metrics_rows_for_every_sample_and_explainer(text_run):
    db, run_id, _, table = text_run
    con = connect(db, read_only=True)
    try:
        per = con.execute("SELECT explainer, count(DISTINCT sample_id) FROM metrics WHERE run_id = ? "
                          "AND sample_id <> '' AND metric = 'n_candidates' GROUP BY 1", [run_id]).fetchall()
        assert dict(per) == {e: len(TEXTS) for e in TEXT_EXPLAINERS}
        agg = dict(con.execute("SELECT explainer, value FROM metrics WHERE run_id = ? AND sample_id = '' "
                               "AND metric = 'success_rate'", [run_id]).fetchall())
        assert set(agg) == set(TEXT_EXPLAINERS) and all(0 <= v <= 1 for v in agg.values())
        n_scores = con.execute("SELECT count(*) FROM token_scores WHERE run_id = ? AND explainer = 'ig'",
                               [run_id]).fetchall()[0][0]
        n_tokens = con.execute("SELECT count(*) FROM tokens WHERE run_id = ?", [run_id]).fetchall()[0][0]
        assert n_scores == n_tokens
        # baselines' flipping sets sit beside CLEANN's, with their size equal to tokens-to-flip
        rows = con.execute("""SELECT e.size, m.value FROM explanations e JOIN metrics m
                              ON m.run_id = e.run_id AND m.sample_id = e.sample_id AND m.explainer = e.explainer
                              AND m.metric = 'size' WHERE e.run_id = ? AND e.explainer = 'ig'""", [run_id]).fetchall()
        assert rows and all(a == b for a, b in rows)
        ev = con.execute("SELECT n_samples, finished_at, command FROM evaluations WHERE run_id = ?",
                         [run_id]).fetchall()[0]
        assert ev[0] == len(TEXTS) and ev[1] is not None and ev[2] == "pytest"
    finally:
        con.close()
    # IG ranks the decisive lexicon words first; attention in this model is random
    t = table.set_index("explainer")
    assert t.loc["ig", "success_rate"] >= t.loc["attention", "success_rate"]


def _fetch(db, sql: str, args: list):
    con = connect(db, read_only=True)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def test_cleann_cost_is_read_from_typed_columns_and_covers_graph_search_tester(text_run):
    """CLEANN's evaluated cost >= its graph + search + tester time (summed here straight from
    explain_heads) and equals the run's samples.seconds; a renamed column fails the plan."""
    db, run_id, _, _ = text_run
    rows = _fetch(db, """
            SELECT c.sample_id, c.seconds, c.infer_seconds, c.graph_seconds + c.search_seconds + c.model_seconds,
                   s.seconds, (SELECT sum(graph_s + search_s + tester_s) FROM explain_heads h
                               WHERE h.run_id = c.run_id AND h.sample_id = c.sample_id),
                   m.value
            FROM explainer_costs c JOIN samples s USING (run_id, sample_id)
            JOIN metrics m ON m.run_id = c.run_id AND m.sample_id = c.sample_id AND m.explainer = c.explainer
                          AND m.metric = 'seconds'
            WHERE c.run_id = ? AND c.explainer = 'cleann'""", [run_id])
    assert len(rows) == len(TEXTS)
    for _, seconds, infer, parts, sample_seconds, heads, metric in rows:
        assert heads > 0 and parts == pytest.approx(heads)
        assert seconds >= heads and infer > 0
        assert seconds == pytest.approx(sample_seconds) and metric == pytest.approx(seconds)


def test_every_explainer_has_a_typed_cost_row_including_inference(text_run):
    db, run_id, _, _ = text_run
    rows = _fetch(db, "SELECT explainer, status, seconds, infer_seconds, graph_seconds, search_seconds, "
                      "model_seconds, forward_rows, backward_rows FROM explainer_costs WHERE run_id = ?", [run_id])
    assert {r[0] for r in rows} == set(TEXT_EXPLAINERS) and len(rows) == len(TEXTS) * len(TEXT_EXPLAINERS)
    for name, status, seconds, infer, graph, search, model, fwd, bwd in rows:
        assert status in ("ok", "not_found", "budget")
        assert infer > 0 and seconds >= infer + graph + search + model
        assert fwd >= 0 and bwd >= (8 if name == "ig" else 0)


def test_cost_sql_names_columns_the_explain_run_writes(tmp_path):
    """The plan's CLEANN cost query runs against a fresh schema (the old code read a JSON key
    the pipeline had stopped writing, silently as 0); a renamed column is an error here."""
    from cleann.metrics.plan import CLEANN_COST_SQL

    con = connect(tmp_path / "fresh.duckdb")
    try:
        frame = con.execute(CLEANN_COST_SQL, ["none"]).df()
    finally:
        con.close()
    assert {"cleann_seconds", "cleann_graph_seconds", "cleann_search_seconds", "cleann_model_seconds",
            "cleann_infer_seconds", "tester_rows", "cleann_status", "positions"} <= set(frame.columns)
    assert "stage_seconds" not in CLEANN_COST_SQL


def test_the_oracle_is_the_ceiling_in_the_evaluation(text_run):
    db, run_id, _, table = text_run
    per = pd.DataFrame(_fetch(db, "SELECT sample_id, explainer, metric, value FROM metrics WHERE run_id = ? "
                                  "AND sample_id <> '' AND metric IN ('found', 'size')", [run_id]),
                       columns=["sample_id", "explainer", "metric", "value"])
    wide = per.pivot_table(index=["sample_id", "explainer"], columns="metric", values="value")
    for sid, g in wide.groupby(level=0):
        g = g.droplevel(0)
        oracle = g.loc["oracle"]
        for name, row in g.iterrows():
            if row["found"]:
                assert oracle["found"] == 1 and oracle["size"] <= row["size"], (sid, name)
    t = table.set_index("explainer")
    assert t.loc["oracle", "found_vs_oracle"] == 1.0 and t.loc["oracle", "extra_size"] == 0.0
    assert (t["found_vs_oracle"].dropna() <= 1.0).all() and (t["extra_size"].dropna() >= 0).all()


def test_reevaluation_resumes_without_work(text_run):
    from cleann.metrics.plan import plan_evaluation

    db, run_id, settings, _ = text_run
    plan = plan_evaluation(db, run_id, settings)
    assert plan.n_samples == 0 and plan.batch_ids == []


class _Checker(HTMLParser):
    VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "source", "wbr",
            "circle", "line", "rect", "polygon", "polyline", "path"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.attrs = [], [], []

    def handle_starttag(self, tag, attrs):
        self.attrs += attrs
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.attrs += attrs

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


def test_report_is_self_contained_and_has_the_table(text_run, tmp_path):
    from cleann.cli import main

    db, run_id, _, _ = text_run
    out = tmp_path / "report.html"
    assert main(["report", run_id, "-o", str(out), "--db", str(db)]) == 0
    html = out.read_text(encoding="utf-8")
    checker = _Checker()
    checker.feed(html)
    assert not checker.errors and checker.stack == []
    assert not re.search(r"https?://", html)
    assert not any(k in ("src", "href") for k, _ in checker.attrs)  # nothing loaded from anywhere
    table = html[html.index('<table class="summary"'):html.index("</table>", html.index('<table class="summary"'))]
    for name in TEXT_EXPLAINERS:
        assert f"<td>{name}</td>" in table
    assert html.count('<svg class="chart"') >= 4 and '<svg class="graph"' in html
    assert "causal graph" in html


def test_report_errors_are_one_line(text_run, tmp_path, capsys):
    from cleann.cli import main

    db, _, _, _ = text_run
    assert main(["report", "nope", "-o", str(tmp_path / "x.html"), "--db", str(db)]) == 2
    assert "nope" in capsys.readouterr().err


def test_recommendation_run_has_replacement_ranks(tmp_path, tiny_rec_path):
    db = make_rec_db(tmp_path / "r.duckdb")
    params = ExplainParams(corpus_kind="movielens", corpus_name="ml-evaltiny")
    summary = run_local(params, ExecParams(batch_size=4), tiny_rec_path, db)
    settings = EvalSettings(explainers=("cleann", "attention", "gxi", "ig"), n_steps=6)
    table = run_evaluation_local(db, summary.run_id, settings).set_index("explainer")
    assert set(table.index) == {"cleann", "attention", "gxi", "ig"}
    con = connect(db, read_only=True)
    try:
        ranks = con.execute("SELECT value FROM metrics WHERE run_id = ? AND metric = 'replacement_rank' "
                            "AND sample_id <> ''", [summary.run_id]).fetchall()
        found = con.execute("SELECT count(*) FROM metrics WHERE run_id = ? AND metric = 'replacement_in_topk' "
                            "AND sample_id <> ''", [summary.run_id]).fetchall()[0][0]
    finally:
        con.close()
    assert all(1 <= r <= 10 for (r,) in ranks)
    assert found >= len(ranks)
    from cleann.report import write_report

    html = write_report(summary.run_id, tmp_path / "rec.html", db).read_text()
    assert "Replacement rank of the new top-1" in html and "Movie " in html
