"""Explanation size and tokens-to-flip: how many removed positions change the decision.

Why a separate notion for rankings: a ranking has no size; the comparable number is the
smallest top-k prefix whose removal changes the output, found with the same tester
(same removal mode) that accepts CLEANN's sets.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def prefixes(ranking: Sequence[int], start: int, stop: int) -> list[tuple[int, ...]]:
    """Top-k sets ``ranking[:k]`` for k = start..stop-1 (sorted tuples, as testers expect)."""
    return [tuple(sorted(ranking[:k])) for k in range(start, stop)]


def first_flip(changed: Sequence[bool], start: int = 1) -> int | None:
    """Smallest k (counting from ``start``) whose prefix changed the decision, else None."""
    hits = np.flatnonzero(np.asarray(changed, dtype=bool))
    return int(hits[0]) + start if hits.size else None


def explanation_size(positions: Sequence[int] | None) -> int | None:
    """Number of positions in a set explanation (None when nothing was found)."""
    return None if positions is None else len(set(positions))
