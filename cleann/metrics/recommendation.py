"""Recommendation: where the replacement top-1 sat in the original top-k list.

Why: the paper's recommendation metric. Removing a good explanation should promote an
item the model already ranked highly (rank 2 is best), not an arbitrary one.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def replacement_rank(new_top1: int, original_topk: Sequence[int]) -> int | None:
    """1-based rank of ``new_top1`` in ``original_topk``; None when it was not in the list."""
    hits = np.flatnonzero(np.asarray(original_topk) == new_top1)
    return int(hits[0]) + 1 if hits.size else None
