"""What metrics ask of the model: outcomes of removing sets of positions, in one batch.

Why a protocol: the removal itself (pad / mask / delete tokens, drop history items) is
the models engineer's tester; metrics must use exactly that removal, so they see the
model only through this batched interface. CLEANN's tester answers only "did the output
change?", but comprehensiveness and sufficiency need the probability of the original
output after removal. The probes build the removed inputs with the tester's own code
(``SentimentTester.probabilities``, the ``np.delete`` + ``next_item_logits`` + ``exclude``
path of ``RecTester``), so tokens are removed exactly as for CLEANN, and derive "changed"
with the tester's rule (argmax differs from the original prediction / top-1). Tests check
the verdicts agree. (Not to be confused with the ``oracle`` explainer, which searches
for the smallest flipping set.)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch


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


class RemovalProbe(Protocol):
    """``candidates``: removable positions; ``full_prob``: p(explained output | input)."""

    candidates: tuple[int, ...]
    full_prob: float
    forward_passes: int

    def __call__(self, removals: list[tuple[int, ...]]) -> Outcome: ...


class TextProbe:
    """Classification: p(original class), class changed; replacement rank not applicable."""

    def __init__(self, tester) -> None:
        self.tester = tester
        inf = tester.inference
        special = np.asarray(inf.special_mask, dtype=bool)
        self.candidates = tuple(int(i) for i in np.flatnonzero(~special))
        self.pred = int(inf.pred)
        self.full_prob = float(np.asarray(inf.probs)[self.pred])
        self.forward_passes = 0

    def __call__(self, removals: list[tuple[int, ...]]) -> Outcome:
        p = self.tester.probabilities(removals)
        self.forward_passes += len(p)
        return Outcome(prob=p[:, self.pred], changed=p.argmax(axis=1) != self.pred,
                       replacement_rank=np.full(len(p), np.nan))


class RecProbe:
    """Recommendation: p(original top-1), top-1 changed, new top-1's rank in the top-k."""

    def __init__(self, tester) -> None:
        self.tester = tester
        self.candidates = tuple(range(len(tester.history)))
        self.topk = np.asarray(tester.topk, dtype=np.int64)
        self.top1_internal = int(tester.rec.to_internal([tester.top1])[0])
        self.full_prob = float(self._probs([tester.history])[0, self.top1_internal])
        self.forward_passes = 0

    def _probs(self, histories) -> np.ndarray:
        from cleann.models.bert4rec import exclude, next_item_logits

        logits = next_item_logits(self.tester.rec, histories, batch_size=self.tester.max_batch)
        logits = exclude(logits, [self.tester.history] * len(histories))
        return torch.softmax(logits, dim=1).numpy()

    def __call__(self, removals: list[tuple[int, ...]]) -> Outcome:
        hists = [np.delete(self.tester.history, list(r)) for r in removals]
        if not hists:
            return Outcome(np.zeros(0), np.zeros(0, bool), np.zeros(0))
        probs = self._probs(hists)
        self.forward_passes += len(hists)
        new = self.tester.rec.to_external(probs.argmax(axis=1))
        changed = new != self.tester.top1
        hit = new[:, None] == self.topk[None, :]
        rank = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 0).astype(np.float64)
        rank[~changed] = np.nan
        return Outcome(prob=probs[:, self.top1_internal], changed=changed, replacement_rank=rank)
