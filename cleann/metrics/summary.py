"""Per-explainer aggregates over samples: success rate, medians, means, cost per sample.

Why here and not only in SQL: the benchmark and tests need the same numbers without a
database; the report's SQL computes the same aggregates from the ``metrics`` table.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def success_rate(found: np.ndarray) -> float:
    """Fraction of samples for which an explanation was found within the budget."""
    arr = np.asarray(found, dtype=np.float64)
    return float(arr.mean()) if arr.size else float("nan")


def summarize(metrics: pd.DataFrame) -> pd.DataFrame:
    """Long ``(sample_id, explainer, metric, value)`` rows -> one row per explainer.

    Columns: samples, success_rate, median/mean size, mean comprehensiveness, sufficiency,
    AOPC, replacement rank (median), seconds and passes per sample. NaN where a metric
    does not apply.
    """
    wide = metrics.pivot_table(index=["explainer", "sample_id"], columns="metric",
                               values="value", aggfunc="first")
    rows = []
    for name, g in wide.groupby(level=0, sort=False):
        col = lambda m: g[m].dropna() if m in g else pd.Series(dtype=float)  # noqa: E731
        rows.append({
            "explainer": name,
            "samples": len(g),
            "success_rate": success_rate(col("found")),
            "median_size": col("size").median(),
            "mean_size": col("size").mean(),
            "comprehensiveness": col("comprehensiveness").mean(),
            "sufficiency": col("sufficiency").mean(),
            "aopc_comp": col("aopc_comp").mean(),
            "aopc_suff": col("aopc_suff").mean(),
            "median_replacement_rank": col("replacement_rank").median(),
            "replacement_in_topk": col("replacement_in_topk").mean(),
            "seconds": col("seconds").mean(),
            "forward_passes": col("forward_passes").mean(),
            "backward_passes": col("backward_passes").mean(),
        })
    return pd.DataFrame(rows).sort_values("explainer", key=lambda c: c.map(_order), kind="stable",
                                          ignore_index=True)


def _order(name: str) -> tuple[int, str]:
    """CLEANN first, then the baselines in registry order, per-head attention after the mean."""
    known = ["cleann", "attention", "attention_best", "rollout", "gxi", "ig", "shap"]
    base = "attention_best" if name.startswith("attention_h") else name
    return (known.index(base) if base in known else len(known), name)


def paired_sizes(metrics: pd.DataFrame) -> pd.DataFrame:
    """CLEANN's size vs each ranking's tokens-to-flip on the samples where both found one.

    Why paired: per-explainer medians are over different samples (each explainer's own
    successes); the issue's size goal compares them on the same samples.
    """
    sizes = metrics[metrics["metric"] == "size"].pivot_table(index="sample_id", columns="explainer",
                                                             values="value", aggfunc="first")
    if "cleann" not in sizes:
        return pd.DataFrame()
    rows = []
    for name in sorted((c for c in sizes.columns if c != "cleann"), key=_order):
        both = sizes[["cleann", name]].dropna()
        c, b = both["cleann"], both[name]
        rows.append({"explainer": name, "n_both": len(both), "cleann_median": c.median(),
                     "baseline_median": b.median(), "cleann_smaller": int((c < b).sum()),
                     "equal": int((c == b).sum()), "cleann_larger": int((c > b).sum())})
    return pd.DataFrame(rows)
