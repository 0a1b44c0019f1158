"""The corpus section of the HTML report: what a whole explanation run says, offline.

Why: a per-sample view cannot show which words *cause* the model's decisions across a
corpus. This page shows the top causal words per class with their 95 % Wilson intervals
and base rate, the best-set size histogram, how much heads agree (mean Jaccard heatmap)
and causal rate against attended rate per word. Inline SVG only (no script, no network),
built on the primitives of :mod:`cleann.report.svg`; :mod:`cleann.report.html` puts it
in a page (alone, or after a run's evaluation).
"""
from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from cleann.report.data import CorpusData, class_name
from cleann.report.svg import PALETTE, _frame, _ticks, empty_chart, grouped_histogram

W, H = 560, 300


def interval_chart(title: str, rows: pd.DataFrame, color: str = PALETTE[0]) -> str:
    """One row per word: the causal rate (dot), its 95 % interval (line) and base rate (tick)."""
    if rows.empty:
        return empty_chart(title, "no word with enough support")
    n = len(rows)
    h = max(H, 40 + 22 * n + 40)
    left, right, top = 130, 20, 30
    pw = W - left - right
    x = lambda v: left + float(v) * pw  # noqa: E731
    parts = []
    for t in _ticks(0.0, 1.0):
        parts.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{h - 40}" class="grid"/>'
                     f'<text x="{x(t):.1f}" y="{h - 26}" text-anchor="middle">{t:.3g}</text>')
    for i, r in enumerate(rows.itertuples(index=False)):
        cy = top + 22 * i + 12
        parts.append(
            f'<text x="{left - 6}" y="{cy + 4}" text-anchor="end">{escape(str(r.label))}</text>'
            f'<line x1="{x(r.rate_low):.1f}" x2="{x(r.rate_high):.1f}" y1="{cy}" y2="{cy}" stroke="{color}" '
            f'stroke-width="2"/>'
            f'<circle cx="{x(r.causal_rate):.1f}" cy="{cy}" r="4" fill="{color}">'
            f'<title>{escape(str(r.label))}: {r.causal_count}/{r.support} causal, rate {r.causal_rate:.3f} '
            f'[{r.rate_low:.3f}, {r.rate_high:.3f}], base rate {r.base_rate:.3f}</title></circle>')
        if not pd.isna(r.base_rate):
            parts.append(f'<line x1="{x(r.base_rate):.1f}" x2="{x(r.base_rate):.1f}" y1="{cy - 6}" y2="{cy + 6}" '
                         f'stroke="#555" class="base"/>')
    parts.append(f'<text x="{left + pw / 2}" y="{h - 8}" text-anchor="middle" class="small">causal rate '
                 f'(dot), 95 % Wilson interval (line), base rate = chance in a random set of that size (tick)</text>')
    return _frame(title, "".join(parts), W, h)


def heatmap(title: str, agreement: pd.DataFrame) -> str:
    """Mean Jaccard of per-head explanation sets, for every pair of heads (symmetric)."""
    if agreement.empty:
        return empty_chart(title, "fewer than two heads with explanations")
    heads = sorted(set(agreement["head_a"]) | set(agreement["head_b"]))
    value = {}
    for r in agreement.itertuples(index=False):
        value[(r.head_a, r.head_b)] = value[(r.head_b, r.head_a)] = (float(r.mean_jaccard), int(r.n_samples))
    n = len(heads)
    size = min(26.0, (H - 70) / n)
    left, top = 60, 34
    parts = []
    for i, a in enumerate(heads):
        parts.append(f'<text x="{left - 4}" y="{top + size * i + size / 2 + 4:.1f}" text-anchor="end" '
                     f'class="small">{a}</text>'
                     f'<text x="{left + size * i + size / 2:.1f}" y="{top + size * n + 12:.1f}" text-anchor="middle" '
                     f'class="small">{a}</text>')
        for j, b in enumerate(heads):
            if a == b:
                fill, tip = "#ddd", f"head {a}"
            elif (a, b) in value:
                v, k = value[(a, b)]
                shade = int(round(255 * (1 - v)))
                fill, tip = f"rgb(255,{shade},{shade})", f"heads {a} and {b}: mean Jaccard {v:.3f} over {k} samples"
            else:
                fill, tip = "#fff", f"heads {a} and {b}: no sample where both explain"
            parts.append(f'<rect x="{left + size * j:.1f}" y="{top + size * i:.1f}" width="{size:.1f}" '
                         f'height="{size:.1f}" fill="{fill}" stroke="#eee"><title>{escape(tip)}</title></rect>')
    lx = left + size * n + 30
    for k, v in enumerate(np.linspace(1, 0, 6)):
        shade = int(round(255 * (1 - v)))
        parts.append(f'<rect x="{lx}" y="{top + 18 * k}" width="14" height="14" fill="rgb(255,{shade},{shade})" '
                     f'stroke="#ccc"/><text x="{lx + 20}" y="{top + 18 * k + 11}" class="small">{v:.1f}</text>')
    parts.append(f'<text x="{lx}" y="{top - 6}" class="small">mean Jaccard</text>')
    return _frame(title, "".join(parts))


def scatter(title: str, points: pd.DataFrame, labelled: int = 8) -> str:
    """Causal rate (y) against attended rate (x) per word, dot area ~ support; diagonal = equal."""
    if points.empty:
        return empty_chart(title, "no word with enough support in explained samples")
    left, right, top, bottom = 60, 20, 30, 44
    pw, ph = W - left - right, H - top - bottom
    x = lambda v: left + float(v) * pw  # noqa: E731
    y = lambda v: top + ph - float(v) * ph  # noqa: E731
    parts = []
    for t in _ticks(0.0, 1.0):
        parts.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{top + ph}" class="grid"/>'
                     f'<text x="{x(t):.1f}" y="{top + ph + 14}" text-anchor="middle">{t:.3g}</text>'
                     f'<line x1="{left}" x2="{left + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}" class="grid"/>'
                     f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{t:.3g}</text>')
    parts.append(f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}" stroke="#999" stroke-dasharray="4 3"/>')
    biggest = float(points["support"].max())
    gap = (points["causal_rate"] - points["attended_rate"]).to_numpy()
    named = set(np.argsort(-gap, kind="stable")[:labelled])
    for i, r in enumerate(points.itertuples(index=False)):
        radius = 2 + 6 * np.sqrt(float(r.support) / biggest)
        parts.append(f'<circle cx="{x(r.attended_rate):.1f}" cy="{y(r.causal_rate):.1f}" r="{radius:.1f}" '
                     f'fill="{PALETTE[1]}" fill-opacity="0.45"><title>{escape(str(r.label))}: causal '
                     f'{r.causal_rate:.3f}, attended {r.attended_rate:.3f}, n={r.support}</title></circle>')
        if i in named:
            parts.append(f'<text x="{x(r.attended_rate) + radius + 2:.1f}" y="{y(r.causal_rate) + 3:.1f}" '
                         f'class="small">{escape(str(r.label))}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{H - 8}" text-anchor="middle" class="small">attended rate '
                 f'(among the k most-attended words, k = explanation size)</text>'
                 f'<text x="14" y="{top + ph / 2}" transform="rotate(-90 14 {top + ph / 2})" text-anchor="middle" '
                 f'class="small">causal rate</text>')
    return _frame(title, "".join(parts))


def size_histogram(data: CorpusData) -> str:
    counts = {("size" if pd.isna(s) else str(int(s))): int(n) for s, n in zip(data.sizes["size"], data.sizes["n"])}
    none = counts.pop("size", 0)
    if not counts and not none:
        return empty_chart("Best-set size", "no explained samples")
    cats = sorted(counts, key=int) + (["none"] if none else [])
    if none:
        counts["none"] = none
    return grouped_histogram("Best-set size per sample (none = no set changed the output)",
                             {"samples": counts}, cats, {"samples": PALETTE[0]}, "explanation size (nodes)")


def _top_table(data: CorpusData) -> str:
    if data.top.empty:
        return ""
    head = ["class" if data.kind == "text" else "group", "word" if data.kind == "text" else "movie", "support",
            "causal", "causal rate", "95 % CI", "base rate", "lift"]
    body = "".join(
        f"<tr><td>{escape(class_name(data.kind, r.group))}</td><td>{escape(str(r.label))}</td><td>{r.support}</td>"
        f"<td>{r.causal_count}</td><td>{r.causal_rate:.3f}</td><td>{r.rate_low:.3f} – {r.rate_high:.3f}</td>"
        f"<td>{r.base_rate:.3f}</td><td>{'–' if pd.isna(r.lift) else f'{r.lift:.2f}'}</td></tr>"
        for r in data.top.itertuples(index=False))
    return ('<table class="summary" id="corpus-top"><thead><tr>' + "".join(f"<th>{h}</th>" for h in head)
            + f"</tr></thead><tbody>{body}</tbody></table>")


def render_corpus_section(data: CorpusData) -> str:
    """The corpus section (an ``<h2>`` and its charts) for the report."""
    from cleann.report.artifact import wilson

    lo, hi = wilson(data.n_found, data.n_ok)
    share = f"{data.n_found / data.n_ok:.1%} (95 % CI {lo:.1%} – {hi:.1%})" if data.n_ok else "–"
    what = "words" if data.kind == "text" else "movies"
    charts = [interval_chart(f"Top causal {what}: {class_name(data.kind, g)}", rows)
              for g, rows in data.top.groupby("group", sort=True)] or [
        interval_chart(f"Top causal {what}", data.top)]
    charts += [size_histogram(data), heatmap("Head agreement (mean Jaccard of explanation sets)", data.agreement),
               scatter(f"Causal vs most-attended ({what}, support ≥ {data.min_support})", data.scatter)]
    return (f'<h2 id="corpus">Corpus</h2><p class="legend">{data.n_ok} samples explained, {data.n_failed} failed; '
            f'an explanation was found for {data.n_found}: {escape(share)}. Words are whole words (pieces merged, '
            f'case-folded); rates need support ≥ {data.min_support} and are ranked by the interval\'s lower '
            f'bound; lift = causal rate / base rate.</p>'
            f'<div class="charts">{"".join(charts)}</div>{_top_table(data)}')
