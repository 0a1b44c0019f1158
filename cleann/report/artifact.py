"""A short markdown summary of an explanation run, for the Prefect UI (and anywhere else).

Why here and plain text: the flow publishes it with ``create_markdown_artifact`` after each
load, but the library never imports Prefect, so the text is built from DuckDB alone and
can be tested without a server.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import duckdb
import pandas as pd

from cleann.report.data import CorpusData, class_name, load_corpus_data


def _pct(x: float) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f} %"


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % Wilson score interval of k successes in n (NaN, NaN for n = 0)."""
    if n <= 0:
        return math.nan, math.nan
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def corpus_markdown(data: CorpusData) -> str:
    """The markdown text for already loaded corpus data."""
    run = data.run
    lo, hi = wilson(data.n_found, data.n_ok)
    found = data.n_found / data.n_ok if data.n_ok else math.nan
    lines = [f"## cleann run `{run['run_id']}`",
             f"{run.get('kind') or ''} · {run.get('corpus') or ''} · status {run.get('status') or '?'}", "",
             f"- samples explained: **{data.n_ok}** (failed: {data.n_failed})",
             f"- explanation found: **{data.n_found}** = {_pct(found)} (95 % CI {_pct(lo)} – {_pct(hi)})", "",
             "| best-set size | samples | share |", "|---:|---:|---:|"]
    for size, n in zip(data.sizes["size"], data.sizes["n"]):
        label = "none found" if pd.isna(size) else str(int(size))
        lines.append(f"| {label} | {int(n)} | {_pct(n / data.n_ok if data.n_ok else math.nan)} |")
    what = "words" if data.kind == "text" else "movies"
    lines += ["", f"### Top causal {what} (support ≥ {data.min_support}, ranked by the 95 % Wilson lower bound)"]
    if data.top.empty:
        lines.append(f"_No {what[:-1]} occurs {data.min_support}+ times in a group with a causal occurrence yet._")
    else:
        head = "predicted class" if data.kind == "text" else "group"
        lines += [f"| {head} | {what[:-1]} | support | causal | causal rate [95 % CI] | lift |",
                  "|---|---|---:|---:|---|---:|"]
        for r in data.top.itertuples(index=False):
            lift = "–" if pd.isna(r.lift) else f"{r.lift:.2f}"
            lines.append(f"| {_cell(class_name(data.kind, r.group))} | {_cell(r.label)} | {r.support} | "
                         f"{r.causal_count} | {r.causal_rate:.2f} [{r.rate_low:.2f}, {r.rate_high:.2f}] | {lift} |")
    return "\n".join(lines) + "\n"


def run_summary_markdown(con: duckdb.DuckDBPyConnection, run_id: str, top: int = 5, min_support: int = 5) -> str:
    """Found share (with its Wilson interval), size distribution and the top causal words per
    class of one run, as markdown."""
    return corpus_markdown(load_corpus_data(con, run_id, top=top, min_support=min_support))


def artifact_key(run_id: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return "cleann-run-" + re.sub(r"[^a-z0-9-]+", "-", str(run_id).lower()).strip("-")


def run_summary_markdown_for_db(db_path: str | Path | None, run_id: str, wait_s: float = 30.0) -> str:
    """``run_summary_markdown`` on a short read-only connection (the flow calls it after loading)."""
    from cleann.config import default_db_path
    from cleann.store.runs import open_db

    with open_db(db_path or default_db_path(), read_only=True, wait_s=wait_s) as con:
        return run_summary_markdown(con, run_id)
