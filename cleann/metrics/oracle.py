"""What metrics ask of the model: outcomes of removing sets of positions, in one batch.

Why a protocol: the removal itself (pad / mask / delete tokens, drop history items) is
the models engineer's tester; metrics must use exactly that removal, so they see the
model only through this batched interface (see :mod:`cleann.metrics.testers` for the
adapters over ``cleann.models.testers``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class Outcome:
    """Per removal set: probability of the originally explained output, whether the
    decision changed, and (recommendation, when changed) the new top-1's 1-based rank in
    the original top-k, 0 when it was outside that list; NaN when not applicable."""

    prob: np.ndarray
    changed: np.ndarray
    replacement_rank: np.ndarray

    @classmethod
    def concat(cls, parts: Sequence[Outcome]) -> Outcome:
        return cls(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("prob", "changed", "replacement_rank")))

    def take(self, index) -> Outcome:
        return Outcome(self.prob[index], self.changed[index], self.replacement_rank[index])


class RemovalOracle(Protocol):
    """``candidates``: removable positions; ``full_prob``: p(explained output | input)."""

    candidates: tuple[int, ...]
    full_prob: float
    forward_passes: int

    def __call__(self, removals: list[tuple[int, ...]]) -> Outcome: ...
