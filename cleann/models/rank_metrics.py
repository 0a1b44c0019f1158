"""Sampled-negative ranking metrics for next-item recommendation (HR@k, NDCG@k, MRR).

Why: the BERT4Rec paper ranks the held-out item against 100 sampled items the user
never interacted with (sampled by popularity). Sampling is seeded so a model and the
popularity baseline are scored on exactly the same candidates; ties are broken at
random (seeded), so a baseline with many equal scores is neither helped nor hurt.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def sample_negatives(seen: Sequence[np.ndarray], n_items: int, counts: np.ndarray,
                     num: int = 100, how: str = "popularity", seed: int = 0) -> np.ndarray:
    """[U, num] internal item indices (1..n_items) not in each user's ``seen`` set.

    ``counts[i]`` is item i's interaction count (index 0 unused); ``how`` is
    ``"popularity"`` (probability proportional to count, as in the paper) or ``"uniform"``.
    """
    if how not in ("popularity", "uniform"):
        raise ValueError(f"negatives: unknown sampling {how!r}")
    rng = np.random.default_rng(seed)
    weights = counts[1:n_items + 1].astype(np.float64) if how == "popularity" \
        else np.ones(n_items)
    weights = weights + 1e-12
    out = np.zeros((len(seen), num), dtype=np.int64)
    for u, items in enumerate(seen):
        w = weights.copy()
        w[np.asarray(items, dtype=np.int64) - 1] = 0.0
        if (w > 0).sum() < num:
            raise ValueError(f"user {u}: fewer than {num} unseen items to sample")
        out[u] = rng.choice(n_items, size=num, replace=False, p=w / w.sum()) + 1
    return out


def ranks(target_scores: np.ndarray, negative_scores: np.ndarray, seed: int = 0) -> np.ndarray:
    """1-based rank of each target among itself and its negatives (ties broken at random)."""
    greater = (negative_scores > target_scores[:, None]).sum(axis=1)
    ties = (negative_scores == target_scores[:, None]).sum(axis=1)
    rng = np.random.default_rng(seed)
    return 1 + greater + rng.integers(0, ties + 1)


def rank_metrics(rank: np.ndarray, ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """HR@k, NDCG@k (k >= 5 in ``ks``; NDCG@1 equals HR@1) and MRR from 1-based ranks."""
    rank = np.asarray(rank, dtype=np.float64)
    out: dict[str, float] = {}
    for k in ks:
        hit = rank <= k
        out[f"HR@{k}"] = float(hit.mean())
        if k > 1:
            out[f"NDCG@{k}"] = float(np.where(hit, 1.0 / np.log2(rank + 1.0), 0.0).mean())
    out["MRR"] = float((1.0 / rank).mean())
    out["users"] = int(len(rank))
    return out
