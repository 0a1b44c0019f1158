"""The per-explainer summary as a plain-text table (CLI output, benchmark, README)."""
from __future__ import annotations

import math

COLUMNS = [("explainer", "explainer", "{}"), ("samples", "n", "{:.0f}"),
           ("success_rate", "found", "{:.0%}"), ("found_vs_oracle", "found/oracle", "{:.0%}"),
           ("median_size", "median size", "{:.1f}"), ("mean_size", "mean size", "{:.2f}"),
           ("extra_size", "size-oracle", "{:+.2f}"),
           ("comprehensiveness", "comp@|S|", "{:.3f}"), ("sufficiency", "suff@|S|", "{:.3f}"),
           ("aopc_comp", "AOPC comp", "{:.3f}"), ("aopc_suff", "AOPC suff", "{:.3f}"),
           ("median_replacement_rank", "repl. rank", "{:.1f}"), ("seconds", "s/sample", "{:.3g}"),
           ("forward_passes", "fwd/sample", "{:.1f}"), ("backward_passes", "bwd/sample", "{:.1f}")]


def _cell(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return fmt.format(value)


def format_summary(rows: list[dict], markdown: bool = False) -> str:
    """Fixed-width (or Markdown) table; columns with no value in any row are left out."""
    cols = [c for c in COLUMNS if any(_cell(r.get(c[0]), c[2]) != "–" for r in rows)]
    table = [[h for _, h, _ in cols]] + [[_cell(r.get(k), f) for k, _, f in cols] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(table[0]) + " |", "|" + "---|" * len(cols)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in table[1:]])
    widths = [max(len(r[i]) for r in table) for i in range(len(cols))]
    return "\n".join("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in table)


def format_paired(rows: list[dict], markdown: bool = False) -> str:
    """CLEANN vs each ranking on the samples where both found an explanation."""
    head = ["vs", "both found", "CLEANN median", "ranking median", "CLEANN smaller", "equal", "CLEANN larger"]
    keys = ["explainer", "n_both", "cleann_median", "baseline_median", "cleann_smaller", "equal", "cleann_larger"]
    table = [head] + [[_cell(r.get(k), "{:.1f}" if "median" in k else "{}") for k in keys] for r in rows]
    if markdown:
        return "\n".join(["| " + " | ".join(table[0]) + " |", "|" + "---|" * len(head)]
                         + ["| " + " | ".join(r) + " |" for r in table[1:]])
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in table)
