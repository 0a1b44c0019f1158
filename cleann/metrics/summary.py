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
    AOPC, replacement rank (median), seconds and passes per sample, and with an oracle
    in the run the distance from it (``found_vs_oracle``, ``extra_size``). NaN where a
    metric does not apply.
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
    table = pd.DataFrame(rows)
    if "oracle" in set(table["explainer"]):
        table = _against_oracle(table, metrics)
    return table.sort_values("explainer", key=lambda c: c.map(_order), kind="stable", ignore_index=True)


def _against_oracle(table: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """How far each explainer is from the exhaustive oracle (the optimum within the budget):
    ``found_vs_oracle`` = its success rate / the oracle's; ``extra_size`` = mean of (its
    size - the oracle's size) on the samples where both found a set (0 = always minimal)."""
    oracle_rate = float(table.loc[table["explainer"] == "oracle", "success_rate"].iloc[0])
    sizes = metrics[metrics["metric"] == "size"].pivot_table(index="sample_id", columns="explainer",
                                                             values="value", aggfunc="first")
    extra = {}
    for name in table["explainer"]:
        if name == "oracle":
            extra[name] = 0.0
        elif name in sizes and "oracle" in sizes:
            both = sizes[[name, "oracle"]].dropna()
            extra[name] = float((both[name] - both["oracle"]).mean()) if len(both) else float("nan")
    return table.assign(
        found_vs_oracle=table["success_rate"] / oracle_rate if oracle_rate > 0 else float("nan"),
        extra_size=table["explainer"].map(extra).astype(float))


def _order(name: str) -> tuple[int, str]:
    """CLEANN first, then the oracle (its ceiling), then the baselines in registry order."""
    known = ["cleann", "oracle", "attention", "rollout", "gxi", "ig", "shap"]
    return (known.index(name) if name in known else len(known), name)


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
