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
    corpus: "CorpusData | None" = None  # the corpus page (cleann.report.corpus)


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
    corpus = load_corpus_data(con, run_id) if run.get("kind") in ("sentiment", "rec") else None
    return ReportData(run, evaluation, kind, summary, per_sample, examples, corpus)


def has_evaluation(con: duckdb.DuckDBPyConnection, run_id: str) -> bool:
    """Whether `cleann evaluate` stored per-sample metrics for the run."""
    return bool(con.execute("SELECT count(*) FROM metrics WHERE run_id = ? AND sample_id <> ''",
                            [run_id]).fetchall()[0][0])


def _titles(con, run: dict) -> dict[int, str]:
    if not run.get("corpus_name"):
        return {}
    rows = con.execute("SELECT item_id, title FROM items WHERE corpus = ?", [run["corpus_name"]]).fetchall()
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


@dataclass
class CorpusData:
    """What the corpus page and the Prefect artifact show about one explanation run."""

    run: dict
    kind: str                     # text | rec
    n_ok: int
    n_failed: int
    n_found: int                  # ok samples with a best CLEANN set
    sizes: pd.DataFrame           # size (NaN = none found), n
    top: pd.DataFrame             # group, label, support, causal_count, causal_rate, rate_low, rate_high, lift
    agreement: pd.DataFrame       # head_a, head_b, n_samples, mean_jaccard, ...
    scatter: pd.DataFrame         # label, support, causal_rate, attended_rate
    min_support: int = 5


CLASS_NAMES = {0: "negative", 1: "positive"}


def class_name(kind: str, value) -> str:
    """'positive (1)' for sentiment classes; rec groups are shown as they are."""
    if kind == "text" and value is not None and not pd.isna(value) and int(value) in CLASS_NAMES:
        return f"{CLASS_NAMES[int(value)]} ({int(value)})"
    return str(value)


def load_corpus_data(con: duckdb.DuckDBPyConnection, run_id: str, top: int = 10,
                     min_support: int = 5, scatter_words: int = 300) -> CorpusData:
    """Corpus statistics of an explanation run from the named queries and the words view
    (works on a read-only connection; see ``cleann.store.queries.ensure_word_objects``)."""
    from cleann.store.queries import ensure_word_objects, run_query

    run = _one(con, "SELECT * FROM runs WHERE run_id = ?", [run_id])
    if run is None:
        raise BadInputError(f"run {run_id!r} is not in the database")
    ensure_word_objects(con)
    kind = "rec" if run.get("kind") == "rec" else "text"
    counts = _one(con, "SELECT count(*) FILTER (WHERE status = 'ok') AS ok, "
                       "count(*) FILTER (WHERE status = 'failed') AS failed, "
                       "count(*) FILTER (WHERE status = 'ok' AND best_size IS NOT NULL) AS found "
                       "FROM samples WHERE run_id = ?", [run_id]) or {}
    sizes = con.execute("SELECT best_size AS size, count(*) AS n FROM samples WHERE run_id = ? AND status = 'ok' "
                        "GROUP BY best_size ORDER BY best_size NULLS LAST", [run_id]).df()
    if kind == "text":
        t = run_query("causal_tokens", run=run_id, params={"min_support": min_support, "top": top}, con=con)
        t = t.rename(columns={"predicted_class": "group", "word": "label"})
    else:
        t = run_query("rec_causal_movies", run=run_id, params={"min_support": min_support, "top": top}, con=con)
        t["label"] = [str(title) if isinstance(title, str) else f"item {i}" for i, title in zip(t["item_id"], t["title"])]
        t["group"] = "all users"
    keep = ["group", "label", "support", "causal_count", "causal_rate", "rate_low", "rate_high", "base_rate", "lift"]
    agreement = run_query("head_agreement", run=run_id, con=con)
    scatter = con.execute(
        "SELECT w.word AS label, count(*) AS support, avg(w.in_explanation::INTEGER) AS causal_rate, "
        "avg(w.attended::INTEGER) AS attended_rate FROM words w "
        "JOIN samples s ON s.run_id = w.run_id AND s.sample_id = w.sample_id AND s.status = 'ok' "
        "WHERE w.run_id = ? AND w.has_explanation GROUP BY w.word HAVING count(*) >= ? "
        "ORDER BY support DESC, label LIMIT ?", [run_id, min_support, scatter_words]).df()
    if kind == "rec" and len(scatter):
        titles = _titles(con, run)
        scatter["label"] = [titles.get(int(x), f"item {x}") if str(x).isdigit() else str(x) for x in scatter["label"]]
    return CorpusData(run, kind, int(counts.get("ok") or 0), int(counts.get("failed") or 0),
                      int(counts.get("found") or 0), sizes, t[keep], agreement, scatter, min_support)
