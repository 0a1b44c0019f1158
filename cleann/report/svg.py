"""Small inline-SVG charts generated in Python (no JS, no external files).

Why hand-made SVG: the report must be one self-contained file that renders offline in
any browser; a few primitives (box plots, lines, bars) cover every plot it needs.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

import numpy as np

PALETTE = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]
W, H = 560, 300
M = {"l": 110, "r": 20, "t": 30, "b": 40}


def color_map(names: Sequence[str]) -> dict[str, str]:
    """Stable colours: CLEANN red, then the palette in order."""
    out, i = {}, 1
    for n in names:
        if n == "cleann":
            out[n] = PALETTE[0]
        else:
            out[n] = PALETTE[i % len(PALETTE)]
            i += 1
    return out


def _frame(title: str, body: str, w: int = W, h: int = H) -> str:
    return (f'<svg class="chart" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(title)}">'
            f'<text x="{w / 2}" y="18" text-anchor="middle" class="title">{escape(title)}</text>{body}</svg>')


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for mult in (1, 2, 5, 10):
        if (hi - lo) / (step * mult) <= n:
            step *= mult
            break
    start = math.ceil(lo / step) * step
    return [round(start + i * step, 10) for i in range(int((hi - start) / step) + 1)]


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def empty_chart(title: str, note: str) -> str:
    return _frame(title, f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" class="note">{escape(note)}</text>')


def box_plot(title: str, groups: Mapping[str, Sequence[float]], colors: Mapping[str, str],
             xlabel: str = "") -> str:
    """Horizontal box plots (min, quartiles, max) with the median labelled, one per group."""
    groups = {k: np.asarray(v, dtype=float) for k, v in groups.items() if len(v)}
    if not groups:
        return empty_chart(title, "no values")
    lo = 0.0
    hi = max(float(v.max()) for v in groups.values()) or 1.0
    pw, row = W - M["l"] - M["r"], (H - M["t"] - M["b"]) / len(groups)
    x = lambda v: M["l"] + (v - lo) / (hi - lo) * pw  # noqa: E731
    parts = []
    for t in _ticks(lo, hi):
        parts.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{M["t"]}" y2="{H - M["b"]}" class="grid"/>'
                     f'<text x="{x(t):.1f}" y="{H - M["b"] + 14}" text-anchor="middle">{_fmt(t)}</text>')
    for i, (name, v) in enumerate(groups.items()):
        cy = M["t"] + row * (i + 0.5)
        q0, q1, q2, q3, q4 = np.percentile(v, [0, 25, 50, 75, 100])
        c, bh = colors.get(name, "#444"), min(18.0, row * 0.6)
        parts.append(
            f'<text x="{M["l"] - 6}" y="{cy + 4:.1f}" text-anchor="end">{escape(name)}</text>'
            f'<line x1="{x(q0):.1f}" x2="{x(q4):.1f}" y1="{cy:.1f}" y2="{cy:.1f}" stroke="{c}"/>'
            f'<rect x="{x(q1):.1f}" y="{cy - bh / 2:.1f}" width="{max(1.0, x(q3) - x(q1)):.1f}" '
            f'height="{bh:.1f}" fill="{c}" fill-opacity="0.35" stroke="{c}"/>'
            f'<line x1="{x(q2):.1f}" x2="{x(q2):.1f}" y1="{cy - bh / 2:.1f}" y2="{cy + bh / 2:.1f}" '
            f'stroke="{c}" stroke-width="3"/>'
            + (f'<text x="{x(q4) + 4:.1f}" y="{cy + 4:.1f}" class="small">' if x(q4) < W - 130 else
               f'<text x="{x(q0) - 4:.1f}" y="{cy - bh / 2 - 2:.1f}" text-anchor="end" class="small">')
            + f'median {_fmt(q2)} (n={len(v)})</text>')
    parts.append(f'<text x="{M["l"] + pw / 2}" y="{H - 6}" text-anchor="middle" class="small">{escape(xlabel)}</text>')
    return _frame(title, "".join(parts))


def line_chart(title: str, xs: Sequence[float], series: Mapping[str, Sequence[float]],
               colors: Mapping[str, str], xlabel: str = "", ylabel: str = "") -> str:
    """Lines with markers over shared x values (categorical spacing, labelled ticks)."""
    series = {k: np.asarray(v, dtype=float) for k, v in series.items() if np.isfinite(v).any()}
    if not series:
        return empty_chart(title, "no values")
    vals = np.concatenate([v[np.isfinite(v)] for v in series.values()])
    lo, hi = min(0.0, float(vals.min())), max(float(vals.max()), 1e-9)
    pw, ph = W - M["l"] - M["r"] - 90, H - M["t"] - M["b"]
    x = lambda i: M["l"] + (i + 0.5) * pw / len(xs)  # noqa: E731
    y = lambda v: M["t"] + ph - (v - lo) / (hi - lo) * ph  # noqa: E731
    parts = []
    for t in _ticks(lo, hi):
        parts.append(f'<line x1="{M["l"]}" x2="{M["l"] + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}" class="grid"/>'
                     f'<text x="{M["l"] - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    for i, xv in enumerate(xs):
        parts.append(f'<text x="{x(i):.1f}" y="{H - M["b"] + 14}" text-anchor="middle">{_fmt(xv)}</text>')
    for j, (name, v) in enumerate(series.items()):
        c = colors.get(name, "#444")
        pts = " ".join(f"{x(i):.1f},{y(val):.1f}" for i, val in enumerate(v) if np.isfinite(val))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="2"/>')
        parts += [f'<circle cx="{x(i):.1f}" cy="{y(val):.1f}" r="3" fill="{c}"/>'
                  for i, val in enumerate(v) if np.isfinite(val)]
        ly = M["t"] + 14 * j + 6
        parts.append(f'<rect x="{M["l"] + pw + 10}" y="{ly - 8}" width="10" height="10" fill="{c}"/>'
                     f'<text x="{M["l"] + pw + 24}" y="{ly + 1}" class="small">{escape(name)}</text>')
    parts.append(f'<text x="{M["l"] + pw / 2}" y="{H - 6}" text-anchor="middle" class="small">{escape(xlabel)}</text>'
                 f'<text x="14" y="{M["t"] + ph / 2}" transform="rotate(-90 14 {M["t"] + ph / 2})" '
                 f'text-anchor="middle" class="small">{escape(ylabel)}</text>')
    return _frame(title, "".join(parts))


def bar_chart(title: str, values: Mapping[str, float], colors: Mapping[str, str], log: bool = False,
              xlabel: str = "", labels: Mapping[str, str] | None = None) -> str:
    """Horizontal bars, optionally on a log axis, each labelled with its value."""
    values = {k: float(v) for k, v in values.items() if v is not None and np.isfinite(v)}
    if not values:
        return empty_chart(title, "no values")
    pw, row = W - M["l"] - M["r"] - 120, (H - M["t"] - M["b"]) / len(values)
    pos = [v for v in values.values() if v > 0]
    if log and pos:
        lo, hi = math.floor(math.log10(min(pos))), math.ceil(math.log10(max(pos)))
        hi = hi if hi > lo else lo + 1
        x = lambda v: M["l"] + (math.log10(max(v, 10 ** lo)) - lo) / (hi - lo) * pw  # noqa: E731
        ticks = [10.0 ** e for e in range(lo, hi + 1)]
    else:
        top = max(values.values()) or 1.0
        x = lambda v: M["l"] + v / top * pw  # noqa: E731
        ticks = _ticks(0, top)
    parts = [f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{M["t"]}" y2="{H - M["b"]}" class="grid"/>'
             f'<text x="{x(t):.1f}" y="{H - M["b"] + 14}" text-anchor="middle">{_fmt(t)}</text>' for t in ticks]
    for i, (name, v) in enumerate(values.items()):
        cy, bh = M["t"] + row * (i + 0.5), min(18.0, row * 0.6)
        x0 = M["l"]
        label = (labels or {}).get(name, _fmt(v))
        parts.append(f'<text x="{M["l"] - 6}" y="{cy + 4:.1f}" text-anchor="end">{escape(name)}</text>'
                     f'<rect x="{x0}" y="{cy - bh / 2:.1f}" width="{max(1.0, x(v) - x0):.1f}" height="{bh:.1f}" '
                     f'fill="{colors.get(name, "#444")}"/>'
                     f'<text x="{max(x(v), x0) + 4:.1f}" y="{cy + 4:.1f}" class="small">{escape(label)}</text>')
    parts.append(f'<text x="{M["l"] + pw / 2}" y="{H - 6}" text-anchor="middle" class="small">{escape(xlabel)}</text>')
    return _frame(title, "".join(parts))


def grouped_histogram(title: str, counts: Mapping[str, Mapping[int, int]], categories: Sequence[int],
                      colors: Mapping[str, str], xlabel: str = "") -> str:
    """Vertical bars per category, one bar per group (e.g. replacement rank 1..k)."""
    counts = {k: v for k, v in counts.items() if sum(v.values())}
    if not counts:
        return empty_chart(title, "no values")
    top = max(max(v.values()) for v in counts.values()) or 1
    pw, ph = W - M["l"] - M["r"] - 90, H - M["t"] - M["b"]
    slot = pw / len(categories)
    bw = slot * 0.8 / len(counts)
    y = lambda v: M["t"] + ph - v / top * ph  # noqa: E731
    parts = [f'<line x1="{M["l"]}" x2="{M["l"] + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}" class="grid"/>'
             f'<text x="{M["l"] - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>'
             for t in _ticks(0, top)]
    for i, cat in enumerate(categories):
        parts.append(f'<text x="{M["l"] + slot * (i + 0.5):.1f}" y="{H - M["b"] + 14}" '
                     f'text-anchor="middle">{cat}</text>')
        for j, (name, v) in enumerate(counts.items()):
            n = v.get(cat, 0)
            x0 = M["l"] + slot * i + slot * 0.1 + j * bw
            parts.append(f'<rect x="{x0:.1f}" y="{y(n):.1f}" width="{bw:.1f}" height="{M["t"] + ph - y(n):.1f}" '
                         f'fill="{colors.get(name, "#444")}"><title>{escape(name)}: {n}</title></rect>')
    for j, name in enumerate(counts):
        ly = M["t"] + 14 * j + 6
        parts.append(f'<rect x="{M["l"] + pw + 10}" y="{ly - 8}" width="10" height="10" fill="{colors.get(name, "#444")}"/>'
                     f'<text x="{M["l"] + pw + 24}" y="{ly + 1}" class="small">{escape(name)}</text>')
    parts.append(f'<text x="{M["l"] + pw / 2}" y="{H - 6}" text-anchor="middle" class="small">{escape(xlabel)}</text>')
    return _frame(title, "".join(parts))
