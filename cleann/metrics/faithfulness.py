"""ERASER faithfulness (DeYoung et al. 2020): comprehensiveness, sufficiency, AOPC.

Why pure functions over probabilities: the model work (one batched forward over all
removal variants) happens once per ranking elsewhere; these only do arithmetic, so they
are testable on hand-made numbers.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

ERASER_BINS: tuple[float, ...] = (0.01, 0.05, 0.10, 0.20, 0.50)


def comprehensiveness(full_prob: float, removed_prob: np.ndarray | float) -> np.ndarray:
    """p(y|x) - p(y|x without the rationale): high when the rationale was needed."""
    return float(full_prob) - np.asarray(removed_prob, dtype=np.float64)


def sufficiency(full_prob: float, kept_prob: np.ndarray | float) -> np.ndarray:
    """p(y|x) - p(y|rationale only): low (or negative) when the rationale suffices."""
    return float(full_prob) - np.asarray(kept_prob, dtype=np.float64)


def bin_sizes(n_candidates: int, bins: Sequence[float] = ERASER_BINS) -> list[int]:
    """Top-k sizes for the ERASER percentage bins: ceil(b * n), at least 1, at most n."""
    if n_candidates <= 0:
        return [0 for _ in bins]
    return [min(n_candidates, max(1, math.ceil(b * n_candidates - 1e-9))) for b in bins]


def aopc(values: Sequence[float]) -> float:
    """Area over the perturbation curve: the mean of per-bin comprehensiveness (or sufficiency)."""
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()) if arr.size else float("nan")
