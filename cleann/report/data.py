"""Everything the report shows, read from DuckDB in a handful of queries.

Why separate from the HTML: queries are testable on their own, and the HTML layer only
formats frames it is given.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pandas as pd

from cleann.errors import BadInputError
from cleann.metrics.summary import summarize


@dataclass
class SampleDetail:
    sample_id: str
    label: int | None
    pred: int | None
    prob: float | None
    tokens: pd.DataFrame          # pos, token, is_special
    sets: dict[str, list[int]]    # explainer -> positions (CLEANN best set, baselines' flip sets)
    top: dict[str, list[int]]     # explainer -> top positions by score
    edges: list[tuple[int, int, str, str]]
    head: int | None
    target: int


@dataclass
class ReportData:
    run: dict
    evaluation: dict | None
    kind: str
    summary: pd.DataFrame
    per_sample: pd.DataFrame      # long: sample_id, explainer, metric, value
    examples: list[SampleDetail] = field(default_factory=list)


def _one(con, sql: str, args: list) -> dict | None:
    cur = con.execute(sql, args)
    rows = cur.fetchall()
    return dict(zip([d[0] for d in cur.description], rows[0])) if rows else None


def load_report_data(con: duckdb.DuckDBPyConnection, run_id: str, n_examples: int = 6) -> ReportData:
    run = _one(con, "SELECT * FROM runs WHERE run_id = ?", [run_id])
    if run is None:
        raise BadInputError(f"run {run_id!r} is not in the database")
    evaluation = _one(con, "SELECT * FROM evaluations WHERE run_id = ?", [run_id])
    per_sample = con.execute("SELECT sample_id, explainer, metric, value FROM metrics "
                             "WHERE run_id = ? AND sample_id <> ''", [run_id]).df()
    if per_sample.empty:
        raise BadInputError(f"run {run_id!r} has no evaluation metrics; run `cleann evaluate` first")
    kind = "rec" if (run.get("kind") == "rec") else "text"
    summary = summarize(per_sample)
    found = per_sample[(per_sample.explainer == "cleann") & (per_sample.metric == "found")]
    ordered = found.sort_values(["value", "sample_id"], ascending=[False, True])["sample_id"].tolist()
    if not ordered:
        ordered = sorted(per_sample["sample_id"].unique())
    picks = ordered[: max(0, n_examples - 1)] + [s for s in ordered[::-1] if s not in ordered[: n_examples - 1]][:1]
    examples = [sample_detail(con, run, s) for s in picks[:n_examples]]
    return ReportData(run, evaluation, kind, summary, per_sample, examples)


def _titles(con, run: dict) -> dict[int, str]:
    corpus = str(run.get("corpus") or "").split(":")
    if len(corpus) < 2:
        return {}
    rows = con.execute("SELECT item_id, title FROM items WHERE corpus = ?", [corpus[1]]).fetchall()
    return {int(i): str(t) for i, t in rows}


def sample_detail(con: duckdb.DuckDBPyConnection, run: dict, sample_id: str, top_k: int = 5) -> SampleDetail:
    run_id = run["run_id"]
    s = _one(con, "SELECT label, pred, prob, best_head FROM samples WHERE run_id = ? AND sample_id = ?",
             [run_id, sample_id]) or {}
    tokens = con.execute("SELECT pos, token_id, token, is_special FROM tokens WHERE run_id = ? AND sample_id = ? "
                         "ORDER BY pos", [run_id, sample_id]).df()
    if run.get("kind") == "rec" and len(tokens):
        titles = _titles(con, run)
        tokens["token"] = [titles.get(int(i), str(t)) for i, t in zip(tokens["token_id"], tokens["token"])]
    sets = {e: [int(p) for p in pos] for e, pos in con.execute(
        "SELECT explainer, positions FROM explanations WHERE run_id = ? AND sample_id = ? AND rank = 0 "
        "AND (explainer = 'cleann' OR head = -1) ORDER BY explainer", [run_id, sample_id]).fetchall()}
    scores = con.execute("SELECT explainer, pos, score FROM token_scores WHERE run_id = ? AND sample_id = ? "
                         "AND explainer NOT LIKE 'attention_h%'", [run_id, sample_id]).df()
    special = set(tokens.loc[tokens["is_special"].astype(bool), "pos"]) if len(tokens) else set()
    top = {}
    for name, g in scores.groupby("explainer"):
        g = g[~g["pos"].isin(special)].sort_values(["score", "pos"], ascending=[False, True])
        top[name] = [int(p) for p in g["pos"].head(top_k)]
    head = s.get("best_head")
    head = None if head is None or pd.isna(head) else int(head)
    if head is None:  # no explanation: show the first head's graph
        first = con.execute("SELECT min(head) FROM graph_edges WHERE run_id = ? AND sample_id = ?",
                            [run_id, sample_id]).fetchall()[0][0]
        head = None if first is None else int(first)
    edges = [] if head is None else [tuple(r) for r in con.execute(
        "SELECT src, dst, mark_src, mark_dst FROM graph_edges WHERE run_id = ? AND sample_id = ? AND head = ? "
        "ORDER BY src, dst", [run_id, sample_id, head]).fetchall()]
    target = int(len(tokens) - 1) if run.get("kind") == "rec" else 0
    return SampleDetail(sample_id, s.get("label"), s.get("pred"), s.get("prob"), tokens, sets, top,
                        edges, head, target)
