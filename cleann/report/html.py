"""Assemble the self-contained evaluation report: inline CSS, inline SVG, no scripts.

Why no JavaScript or external assets: the file must open offline, from mail or a CI
artifact, and render the same everywhere (checked with headless chromium in the tests).
"""
from __future__ import annotations

import json
from html import escape

import numpy as np
import pandas as pd

from cleann.metrics.faithfulness import ERASER_BINS
from cleann.metrics.report_text import COLUMNS, _cell
from cleann.report.corpus import render_corpus_section
from cleann.report.data import CorpusData, ReportData, SampleDetail
from cleann.report.graph import graph_svg
from cleann.report.svg import bar_chart, box_plot, color_map, grouped_histogram, line_chart

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid #eee}
h3{font-size:15px;margin:18px 0 6px}
table.summary{border-collapse:collapse;font-size:13px} table.summary th,table.summary td{border:1px solid #ddd;
padding:4px 8px;text-align:right} table.summary th{background:#f4f4f4} table.summary td:first-child{text-align:left;font-weight:600}
.meta{font-size:12px;color:#555;max-width:1200px} .meta td{padding:1px 8px 1px 0;vertical-align:top;word-break:break-all}
.meta td:first-child{white-space:nowrap;word-break:normal}
.charts{display:flex;flex-wrap:wrap;gap:12px} svg.chart{border:1px solid #eee;background:#fcfcfc}
svg text{font-size:11px;fill:#333} svg .title{font-size:13px;font-weight:600} svg .small{font-size:10px}
svg .note{font-size:12px;fill:#888} svg .grid{stroke:#e6e6e6}
.sample{display:flex;gap:16px;align-items:flex-start;border:1px solid #eee;padding:10px;margin:10px 0}
.sample .rows{flex:1;min-width:0} .row{margin:4px 0;line-height:1.9;font-size:13px}
.row .who{display:inline-block;width:90px;font-weight:600;font-size:12px}
.tok{padding:1px 2px;border-radius:3px} .tok.sp{color:#aaa}
.tok.set{color:#fff} .tok.top{outline:1px dashed #555}
svg.graph{border:1px solid #eee;background:#fcfcfc;flex:none}
svg.graph .edge{stroke:#999;stroke-width:1} svg.graph .arrow{fill:#555} svg.graph .circ{fill:#fff;stroke:#555}
svg.graph .node{fill:#cfd8dc;stroke:#607d8b} svg.graph .hit{fill:#d62728;stroke:#8b0000}
svg.graph .target{fill:#1f77b4;stroke:#0d3c61} svg.graph .nlabel{font-size:9px}
.legend{font-size:12px;color:#555}
"""


def _table(summary: pd.DataFrame) -> str:
    rows = summary.to_dict(orient="records")
    cols = [c for c in COLUMNS if any(_cell(r.get(c[0]), c[2]) != "–" for r in rows)]
    head = "".join(f"<th>{escape(h)}</th>" for _, h, _ in cols)
    body = "".join("<tr>" + "".join(f"<td>{escape(_cell(r.get(k), f))}</td>" for k, _, f in cols) + "</tr>"
                   for r in rows)
    return f'<table class="summary" id="summary"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _paired(data: ReportData) -> str:
    from cleann.metrics.summary import paired_sizes

    rows = paired_sizes(data.per_sample).to_dict(orient="records")
    if not rows:
        return ""
    head = ["vs", "both found", "CLEANN median", "ranking median", "CLEANN smaller", "equal", "CLEANN larger"]
    keys = ["explainer", "n_both", "cleann_median", "baseline_median", "cleann_smaller", "equal", "cleann_larger"]
    body = "".join("<tr>" + "".join(f"<td>{escape(_cell(r.get(k), '{:.1f}' if 'median' in k else '{}'))}</td>"
                                    for k in keys) + "</tr>" for r in rows)
    return ('<h3>Explanation size, paired: samples where CLEANN and the ranking both changed the output</h3>'
            '<table class="summary" id="paired"><thead><tr>' + "".join(f"<th>{h}</th>" for h in head)
            + f"</tr></thead><tbody>{body}</tbody></table>")


def script_json(value) -> str:
    """JSON for a ``<script type="application/json">`` element: the element's text is
    read as is (no HTML entities are decoded inside a script), so it must be valid JSON;
    only ``<``, ``>`` and ``&`` are written as ``\\u003c`` etc., so no value can close the
    element or open a comment. ``json.loads`` of the element's text gives ``value`` back."""
    text = json.dumps(value, default=str, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _meta(data: ReportData) -> str:
    run, ev = data.run, data.evaluation or {}
    items = [("run", run["run_id"]), ("corpus", run.get("corpus")), ("model", run.get("model")),
             ("CLEANN parameters", run.get("params")), ("explainers", ", ".join(ev.get("explainers") or [])),
             ("evaluation settings", ev.get("settings")), ("samples evaluated", ev.get("n_samples")),
             ("machine", ev.get("machine")), ("command", ev.get("command")),
             ("evaluated", f"{ev.get('started_at')} – {ev.get('finished_at')} UTC" if ev else None)]
    return '<table class="meta">' + "".join(
        f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>" for k, v in items if v not in (None, "")) + "</table>"


def _wide(data: ReportData) -> pd.DataFrame:
    return data.per_sample.pivot_table(index=["explainer", "sample_id"], columns="metric", values="value",
                                       aggfunc="first")


def _charts(data: ReportData, colors: dict[str, str]) -> str:
    wide = _wide(data)
    names = list(data.summary["explainer"])
    col = lambda m: {n: wide.loc[n][m].dropna().to_numpy() for n in names  # noqa: E731
                     if n in wide.index.get_level_values(0) and m in wide.columns}
    unit = "items" if data.kind == "rec" else "tokens"
    charts = [box_plot(f"Explanation size ({unit} removed to change the output)", col("size"), colors,
                       f"CLEANN: set size; rankings: tokens-to-flip ({unit})")]
    pct = [round(b * 100) for b in ERASER_BINS]
    for key, label in (("comp", "comprehensiveness (higher is better)"), ("suff", "sufficiency (lower is better)")):
        series = {n: [float(np.nanmean(v)) if len(v := col(f"{key}@{p}").get(n, [])) else np.nan for p in pct]
                  for n in names if n != "cleann"}
        charts.append(line_chart(f"AOPC curve: {label}", pct, series, colors, "top-k % of positions removed",
                                 "mean over samples"))
    summ = data.summary.set_index("explainer")
    labels = {n: f"{summ.loc[n, 'seconds']:.3g} s, {summ.loc[n, 'forward_passes']:.0f} fwd + "
                 f"{summ.loc[n, 'backward_passes']:.0f} bwd" for n in names}
    charts.append(bar_chart("Cost per sample (seconds, log scale)", summ["seconds"].to_dict(), colors, log=True,
                            xlabel="seconds per sample (wall clock + the sample's inference share)", labels=labels))
    if data.kind == "rec":
        counts = {n: pd.Series(v).astype(int).value_counts().to_dict() for n, v in col("replacement_rank").items()}
        charts.append(grouped_histogram("Replacement rank of the new top-1 in the original top-10", counts,
                                        list(range(1, 11)), colors, "rank (2 is best)"))
    note = "" if data.kind == "rec" else ('<p class="legend">Replacement-rank histogram: recommendation '
                                          'runs only (classification has no ranked replacement).</p>')
    return '<div class="charts">' + "".join(charts) + "</div>" + note


def _tokens_row(who: str, d: SampleDetail, marked: list[int], color: str, dashed: bool,
                visible: set[int] | None = None) -> str:
    mark = set(marked)
    out = []
    skipped = False
    for pos, tok, special in zip(d.tokens["pos"], d.tokens["token"], d.tokens["is_special"]):
        if visible is not None and pos not in visible:
            if not skipped:
                out.append('<span class="tok sp">…</span>')
            skipped = True
            continue
        skipped = False
        cls = "tok sp" if special else "tok"
        style = ""
        if pos in mark:
            cls += " top" if dashed else " set"
            style = f' style="background:{color}{"33" if dashed else ""}"'
        out.append(f'<span class="{cls}"{style} title="{pos}">{escape(str(tok))}</span>')
    return f'<div class="row"><span class="who">{escape(who)}</span>{" ".join(out)}</div>'


def _visible(d: SampleDetail, kind: str, tail: int = 20) -> set[int] | None:
    """Long histories: the last ``tail`` items plus every marked item (others elided)."""
    n = len(d.tokens)
    if kind != "rec" or n <= 2 * tail:
        return None
    marked = {p for v in [*d.sets.values(), *d.top.values()] for p in v}
    return marked | set(range(n - tail, n))


def _sample_view(d: SampleDetail, names: list[str], colors: dict[str, str], kind: str) -> str:
    rows = []
    visible = _visible(d, kind)
    for n in names:
        if n in d.sets:
            rows.append(_tokens_row(n, d, d.sets[n], colors.get(n, "#444"), False, visible))
        elif n in d.top:
            rows.append(_tokens_row(n + " (top 5)", d, d.top[n], colors.get(n, "#444"), True, visible))
        elif n == "cleann":
            rows.append(f'<div class="row"><span class="who">cleann</span><i>no explanation found</i></div>')
    labels = {int(p): str(t) for p, t in zip(d.tokens["pos"], d.tokens["token"])}
    what = "class" if kind == "text" else "top-1 item"
    prob = "" if d.prob is None or pd.isna(d.prob) else f", p = {d.prob:.3f}"
    head = f"head {d.head}" if d.head is not None else "no head with an explanation"
    graph = graph_svg(d.edges, d.target, labels, d.sets.get("cleann", []), f"causal graph ({head})")
    return (f'<h3>sample {escape(d.sample_id)} — label {d.label}, predicted {what} {d.pred}{prob}</h3>'
            f'<div class="sample"><div class="rows">{"".join(rows)}</div>{graph}</div>')


def render_corpus_page(data: CorpusData) -> str:
    """A whole HTML page with only the corpus section (runs without an evaluation)."""
    title = f"cleann corpus — run {data.run['run_id']}"
    meta = "".join(f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>"
                   for k, v in (("corpus", data.run.get("corpus")), ("model", data.run.get("model")),
                                ("parameters", data.run.get("params")), ("status", data.run.get("status")))
                   if v not in (None, ""))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<style>{CSS}</style></head><body><h1>{escape(title)}</h1><table class="meta">{meta}</table>'
            f'{render_corpus_section(data)}</body></html>')


def render_report(data: ReportData) -> str:
    """The whole report as one HTML string."""
    names = list(data.summary["explainer"])
    colors = color_map(names)
    title = f"cleann evaluation — run {data.run['run_id']}"
    legend = ("Filled: the explanation set (CLEANN's best set; for a ranking, its smallest top-k whose removal "
              "changes the output). Dashed: a ranking's top 5 when no top-k changed the output. Graph: the "
              "target in blue at the centre, CLEANN's set in red, rings by skeleton distance; edge ends show "
              "PAG marks (arrowhead, circle, tail).")
    samples = "".join(_sample_view(d, names, colors, data.kind) for d in data.examples)
    notes = {"size": "CLEANN: |S| of the best set; rankings: tokens-to-flip (same tester and removal mode)",
             "comp@|S| / suff@|S|": "ERASER comprehensiveness / sufficiency at CLEANN's set size on that sample",
             "AOPC": "mean over the ERASER bins 1, 5, 10, 20, 50 % of removable positions",
             "cost": "wall-clock seconds per sample including its share of the inference pass (table "
                     "explainer_costs), and model rows (sequences) forward/backward beyond inference",
             "oracle": "exhaustive smallest flipping set within the same set-size budget: the ceiling of found "
                       "and size; found/oracle and size-oracle say how far each explainer is from it"}
    defs = "".join(f"<li><b>{escape(k)}</b>: {escape(v)}</li>" for k, v in notes.items())
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<style>{CSS}</style></head><body><h1>{escape(title)}</h1>{_meta(data)}'
            f'<h2>Side by side</h2>{_table(data.summary)}<ul class="legend">{defs}</ul>'
            f'{_paired(data)}'
            f'<h2>Plots</h2>{_charts(data, colors)}'
            f'{render_corpus_section(data.corpus) if data.corpus is not None else ""}'
            f'<h2>Samples</h2><p class="legend">{escape(legend)}</p>{samples}'
            f'<script type="application/json" id="summary-data">'
            f'{script_json(data.summary.replace({np.nan: None, np.inf: None, -np.inf: None}).to_dict(orient="records"))}'
            f'</script>'
            f'</body></html>')
