"""Batched explanation testers: does removing a candidate set change the model's output?

Why: CLEANN's search tests every candidate set of one size at once (engine contract:
``tester(candidates) -> Sequence[bool]``), so all candidates of a call go through the
model together, in as few forward passes as the memory budget allows. Positions are
row/column indices of the attention matrix the graph was learned from: for text, indices
into ``TextInference.token_ids`` (with [CLS]/[SEP]); for recommendation, indices into the
abductive sequence ``history + [top-1]``. The target position is never removable.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from cleann.models.bert4rec import Bert4Rec, RecInference, exclude, next_item_logits
from cleann.models.fast_rows import FastRows
from cleann.models.sentiment import TextInference

REMOVALS = ("pad", "mask", "delete")


def _check_positions(cands: Sequence[tuple[int, ...]], length: int, target: int) -> None:
    for cand in cands:
        if any(p < 0 or p >= length for p in cand):
            raise ValueError(f"candidate {cand}: positions must be in [0, {length})")
        if target in cand:
            raise ValueError(f"candidate {cand} contains the target position {target}")


@dataclass
class TextOutcome:
    """Model output after removing one accepted candidate set."""

    new_class: int
    new_prob: float  # probability of the new class


class SentimentTester:
    """Replace (by [PAD] as in the reference, or [MASK]) or delete candidate tokens.

    Returns, per candidate, whether the predicted class differs from
    ``inference.pred``. ``forward_passes`` counts batched passes of the searched rows (float32 re-checks of
    the fast copy are counted apart, in ``rechecked``); ``accepted`` maps each
    accepted candidate to its :class:`TextOutcome`.

    ``fast``: an optional :class:`cleann.models.fast_rows.FastRows` (a bf16 copy of
    ``model`` and its measured margin) that runs every row first; rows it cannot decide
    with a lead above the margin, and rows whose class changed, are run again by
    ``model`` (float32), so the verdicts and outcomes are ``model``'s. ``rechecked``
    counts those rows. Tensors go to ``model``'s device.
    """

    def __init__(self, model, tokenizer, inference: TextInference, removal: str = "pad",
                 max_tokens_per_pass: int = 16384, max_batch: int = 256,
                 fast: FastRows | None = None) -> None:
        if removal not in REMOVALS:
            raise ValueError(f"removal must be one of {REMOVALS}, not {removal!r}")
        from cleann.models.device import model_device

        self.model, self.inference, self.removal = model, inference, removal
        self.device = model_device(model)
        self.fast = fast
        self.rechecked = 0  # rows run again in float32 after the fast pass
        self.replacement = {"pad": tokenizer.pad_token_id, "mask": tokenizer.mask_token_id,
                            "delete": None}[removal]
        if removal != "delete" and self.replacement is None:
            raise ValueError(f"tokenizer has no {removal} token")
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        # DistilBERT-style models take no token_type_ids.
        self.token_types = "token_type_ids" in getattr(tokenizer, "model_input_names", ())
        length = len(inference.token_ids)
        self.chunk = max(1, min(max_batch, max_tokens_per_pass // max(length, 1)))
        self.forward_passes = 0
        self.rows = 0  # candidate removals run through the model
        self.accepted: dict[tuple[int, ...], TextOutcome] = {}

    def _inputs(self, cands: Sequence[tuple[int, ...]]) -> dict[str, torch.Tensor]:
        ids = self.inference.token_ids
        n, length = len(cands), len(ids)
        if self.removal != "delete":
            batch = np.tile(ids, (n, 1))
            rows = np.concatenate([np.full(len(c), r) for r, c in enumerate(cands)])
            cols = np.concatenate([np.asarray(c, dtype=np.int64) for c in cands])
            batch[rows, cols] = self.replacement
            mask = np.ones_like(batch)
        else:
            keep = np.ones((n, length), dtype=bool)
            for r, c in enumerate(cands):
                keep[r, list(c)] = False
            counts = keep.sum(axis=1)
            batch = np.full((n, int(counts.max())), self.pad_id, dtype=np.int64)
            mask = np.arange(batch.shape[1])[None, :] < counts[:, None]
            batch[mask] = np.broadcast_to(ids, (n, length))[keep]
            mask = mask.astype(np.int64)
        inputs = {"input_ids": torch.from_numpy(batch.astype(np.int64)),
                  "attention_mask": torch.from_numpy(mask.astype(np.int64))}
        if self.token_types:
            inputs["token_type_ids"] = torch.zeros(batch.shape, dtype=torch.int64)
        return inputs

    def _logits(self, model, cands: Sequence[tuple[int, ...]]) -> torch.Tensor:
        """float32 logits (n, C) on the CPU, in chunked passes of ``model``."""
        device = self.device if model is self.model else torch.device("cpu")
        out = []
        for start in range(0, len(cands), self.chunk):
            inputs = self._inputs(cands[start:start + self.chunk])
            with torch.inference_mode():
                out.append(model(**{k: v.to(device) for k, v in inputs.items()}).logits.float().cpu())
        if not out:
            return torch.zeros((0, len(self.inference.probs)), dtype=torch.float32)
        return torch.cat(out)

    def _checked_logits(self, cands: list[tuple[int, ...]]) -> torch.Tensor:
        """Logits from the fast model, float32 ones for every row it cannot decide.

        Re-checked rows also feed the margin; when it grows, rows of this call decided
        under the old margin are decided again under the new one.
        """
        fast = self._logits(self.fast.model, cands)
        self.forward_passes += -(-len(cands) // self.chunk)
        logits = fast.clone()
        done = np.zeros(len(cands), dtype=bool)
        while True:
            redo = np.flatnonzero(self.fast.needs_recheck(fast, self.inference.pred).numpy() & ~done)
            if not len(redo):
                return logits
            index = torch.from_numpy(redo)
            exact = self._logits(self.model, [cands[i] for i in redo])
            self.fast.observe(fast[index], exact)
            logits[index] = exact
            done[redo] = True
            # Not added to forward_passes: how many rows need the float32 re-check depends on
            # the margin this process has calibrated so far, and stored counts must not
            # depend on process history (a resumed run must equal an uninterrupted one).
            self.rechecked += len(redo)

    def probabilities(self, candidates: Sequence[tuple[int, ...]]) -> np.ndarray:
        """Class probabilities (n, C) after removing each candidate, in chunked passes.

        Public so that metrics needing probabilities (ERASER) remove tokens exactly as the
        tester does; it does not touch ``forward_passes`` or ``accepted``.
        """
        cands = [tuple(int(p) for p in c) for c in candidates]
        self.model.eval()
        return torch.softmax(self._logits(self.model, cands), dim=-1).numpy()

    def __call__(self, candidates: Sequence[tuple[int, ...]]) -> list[bool]:
        cands = [tuple(int(p) for p in c) for c in candidates]
        _check_positions(cands, len(self.inference.token_ids), self.inference.target)
        self.rows += len(cands)
        if self.fast is None:
            probs = self.probabilities(cands)
            self.forward_passes += -(-len(cands) // self.chunk)
        else:
            probs = torch.softmax(self._checked_logits(cands), dim=-1).numpy()
        preds = probs.argmax(axis=1)
        changed: list[bool] = []
        for cand, pred, p in zip(cands, preds, probs):
            hit = int(pred) != self.inference.pred
            if hit:
                self.accepted[cand] = TextOutcome(int(pred), float(p[pred]))
            changed.append(hit)
        return changed


@dataclass
class RecOutcome:
    """Recommendation after removing one accepted candidate set of history items."""

    new_top1: int
    rank_in_original_topk: int | None  # 1-based; None when not in the original top-k


class RecTester:
    """Remove candidate history items and report whether the top-1 recommendation changes.

    Items of the original history stay excluded from the new recommendation (a removed
    item becoming the new top-1 would not be a meaningful replacement).
    """

    def __init__(self, rec: Bert4Rec, inference: RecInference, max_batch: int = 256) -> None:
        self.rec, self.inference, self.max_batch = rec, inference, max_batch
        self.history = rec.to_internal(list(inference.history))
        self.top1 = int(inference.topk[0])
        self.topk = [int(i) for i in inference.topk]
        self.forward_passes = 0
        self.rows = 0  # candidate removals run through the model
        self.accepted: dict[tuple[int, ...], RecOutcome] = {}

    def __call__(self, candidates: Sequence[tuple[int, ...]]) -> list[bool]:
        cands = [tuple(int(p) for p in c) for c in candidates]
        length = len(self.history) + 1
        _check_positions(cands, length, self.inference.target)
        changed: list[bool] = []
        for start in range(0, len(cands), self.max_batch):
            part = cands[start:start + self.max_batch]
            hists = [np.delete(self.history, list(c)) for c in part]
            logits = next_item_logits(self.rec, hists, batch_size=self.max_batch)
            self.forward_passes += 1
            self.rows += len(part)
            logits = exclude(logits, [self.history] * len(part))
            new = self.rec.to_external(logits.argmax(dim=1).numpy())
            for cand, item in zip(part, new.tolist()):
                hit = int(item) != self.top1
                if hit:
                    rank = self.topk.index(item) + 1 if item in self.topk else None
                    self.accepted[cand] = RecOutcome(int(item), rank)
                changed.append(hit)
        return changed
