"""BERT4Rec on transformers' BERT: checkpoint format, batching and abductive inference.

Why this shape: BERT4Rec (Sun et al. 2019) is a BERT encoder over item ids trained with
a Cloze objective whose output layer is tied to the item embeddings (a GELU transform,
then dot product with the item embeddings plus a bias). That is exactly
``BertForMaskedLM`` with the items as its vocabulary, so we reuse it (eager attention,
no hand-written attention) and save it with ``save_pretrained`` (safetensors).

Ids: internal index 0 is [PAD], 1..n_items are items, n_items+1 is [MASK]. Users see
their own item ids; ``bert4rec.json`` maps internal indices to them. Sequences are
left-padded and position ids are right-aligned (the last real position always gets
``max_len - 1``), as in the common BERT4Rec implementations, so batches can be padded
dynamically without changing what the model sees.

CLEANN's abductive step (``recommend``): run history + [MASK], take the top-1 item,
then run history + that item and read the last layer's attention; the appended item
is the last position, the explanation target.

``RecTester`` (CLEANN's removal tester for recommendation) removes candidate history
items, batched like the text tester; positions index the abductive sequence
``history + [top-1]``, whose last position (the target) is never removable.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from cleann.errors import BadInputError
from cleann.models.device import model_device
from cleann.models.sentiment import check_positions

META_FILE = "bert4rec.json"


@dataclass
class Bert4Rec:
    """A loaded BERT4Rec: the masked-LM model plus the item-id mapping."""

    model: "torch.nn.Module"
    item_ids: np.ndarray  # item_ids[i - 1] is the user-facing id of internal index i
    max_len: int
    _index: dict[int, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.item_ids = np.asarray(self.item_ids, dtype=np.int64)
        self._index = {int(v): i + 1 for i, v in enumerate(self.item_ids)}

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def mask_id(self) -> int:
        return self.n_items + 1

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    def to_internal(self, items: Sequence[int]) -> np.ndarray:
        """User item ids -> internal indices; unknown ids are a user error."""
        try:
            return np.fromiter((self._index[int(i)] for i in items), dtype=np.int64,
                               count=len(items))
        except KeyError as exc:
            raise BadInputError(f"item id {exc.args[0]} is not in the BERT4Rec vocabulary "
                                f"({self.n_items} items)") from None

    def to_external(self, idx: np.ndarray) -> np.ndarray:
        return self.item_ids[np.asarray(idx, dtype=np.int64) - 1]


@dataclass
class RecInference:
    """One user's recommendation with last-layer attention after the abductive step.

    ``history``: the item ids used (truncated to the last ``max_len - 1``);
    ``topk``/``scores``: recommended item ids (history items excluded) and their logits;
    ``attention``: float32 [H, L+1, L+1] over ``history + [topk[0]]`` (target = last).
    """

    history: np.ndarray
    topk: np.ndarray
    scores: np.ndarray
    attention: np.ndarray

    @property
    def sequence(self) -> np.ndarray:
        """The abductive sequence whose attention is ``attention``."""
        return np.append(self.history, self.topk[0])

    @property
    def target(self) -> int:
        return len(self.history)


def new_bert4rec(item_ids: Sequence[int], *, hidden_size: int = 64, num_layers: int = 2,
                 num_heads: int = 2, max_len: int = 200, dropout: float = 0.1,
                 initializer_range: float = 0.02) -> Bert4Rec:
    """A freshly initialised BERT4Rec over ``item_ids`` (the paper's sizes by default)."""
    from transformers import BertConfig, BertForMaskedLM

    n = len(item_ids)
    config = BertConfig(
        vocab_size=n + 2, hidden_size=hidden_size, num_hidden_layers=num_layers,
        num_attention_heads=num_heads, intermediate_size=4 * hidden_size,
        max_position_embeddings=max_len, type_vocab_size=1, pad_token_id=0,
        hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
        tie_word_embeddings=True, initializer_range=initializer_range,
    )
    model = BertForMaskedLM(config)
    model.set_attn_implementation("eager")
    return Bert4Rec(model=model, item_ids=np.asarray(item_ids, dtype=np.int64), max_len=max_len)


def save_bert4rec(rec: Bert4Rec, out_dir: str | Path, extra: dict | None = None) -> Path:
    """Write ``config.json``, ``model.safetensors`` and ``bert4rec.json`` to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rec.model.save_pretrained(out, safe_serialization=True)
    meta = {"n_items": rec.n_items, "max_len": rec.max_len, "pad_id": 0,
            "mask_id": rec.mask_id, "item_ids": [int(i) for i in rec.item_ids]}
    meta.update(extra or {})
    (out / META_FILE).write_text(json.dumps(meta))
    return out


def load_bert4rec(path: str | Path) -> Bert4Rec:
    """Load a checkpoint written by :func:`save_bert4rec` (safetensors only, eager attention)."""
    from transformers import BertForMaskedLM

    folder = Path(path)
    if not (folder / META_FILE).is_file():
        raise BadInputError(f"{folder}: not a BERT4Rec checkpoint (no {META_FILE})")
    if not (folder / "model.safetensors").is_file():
        raise BadInputError(f"{folder}: no model.safetensors (only safetensors are loaded)")
    meta = json.loads((folder / META_FILE).read_text())
    model = BertForMaskedLM.from_pretrained(folder, attn_implementation="eager",
                                            use_safetensors=True, trust_remote_code=False)
    if model.config.vocab_size != meta["n_items"] + 2:
        raise BadInputError(f"{folder}: vocab_size {model.config.vocab_size} does not match "
                            f"{meta['n_items']} items + [PAD] + [MASK]")
    return Bert4Rec(model=model.eval(), item_ids=np.asarray(meta["item_ids"]),
                    max_len=int(meta["max_len"]))


def pad_batch(seqs: Sequence[np.ndarray], max_len: int) -> dict[str, torch.Tensor]:
    """Left-pad internal-id sequences (each <= max_len) with right-aligned position ids."""
    width = max(len(s) for s in seqs)
    ids = np.zeros((len(seqs), width), dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for row, s in enumerate(seqs):
        if len(s):
            ids[row, width - len(s):] = s
            mask[row, width - len(s):] = 1
    # Real token j of a length-n sequence gets position max_len - n + j.
    pos = np.arange(width)[None, :] + (max_len - width)
    pos = np.where(mask == 1, pos, 0)
    return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask),
            "position_ids": torch.from_numpy(pos)}


def head_logits(rec: Bert4Rec, batch: dict[str, torch.Tensor], rows: torch.Tensor,
                cols: torch.Tensor) -> torch.Tensor:
    """Item logits at the given (row, col) positions only.

    Why: the tied output layer over all items is the costliest part of BERT4Rec; running
    it only where a prediction is needed (masked or last positions) is ~5x cheaper.
    """
    device = model_device(rec.model)
    hidden = rec.model.bert(**{k: v.to(device) for k, v in batch.items()}).last_hidden_state
    return rec.model.cls(hidden[rows.to(device), cols.to(device)])


def next_item_logits(rec: Bert4Rec, histories: Sequence[np.ndarray],
                     batch_size: int = 256) -> torch.Tensor:
    """Logits over internal ids for the item after each (internal-id) history.

    Histories are truncated to their last ``max_len - 1`` items and get a [MASK] appended.
    [PAD] and [MASK] logits are set to -inf. One forward pass per ``batch_size`` histories.
    """
    out = []
    for start in range(0, len(histories), batch_size):
        chunk = [np.append(np.asarray(h[-(rec.max_len - 1):], dtype=np.int64), rec.mask_id)
                 for h in histories[start:start + batch_size]]
        rows = torch.arange(len(chunk))
        with torch.no_grad():
            logits = head_logits(rec, pad_batch(chunk, rec.max_len), rows,
                                 torch.full_like(rows, -1))
        out.append(logits.float().cpu())
    logits = torch.cat(out)
    logits[:, 0] = -torch.inf
    logits[:, rec.mask_id] = -torch.inf
    return logits


def exclude(logits: torch.Tensor, histories: Sequence[np.ndarray]) -> torch.Tensor:
    """Set the logits of each row's history items to -inf (never recommend seen items)."""
    rows = np.concatenate([np.full(len(h), r) for r, h in enumerate(histories)]) \
        if histories else np.zeros(0, dtype=np.int64)
    cols = np.concatenate([np.asarray(h, dtype=np.int64) for h in histories]) \
        if histories else np.zeros(0, dtype=np.int64)
    logits[torch.from_numpy(rows.astype(np.int64)), torch.from_numpy(cols)] = -torch.inf
    return logits


def recommend(rec: Bert4Rec, histories: Sequence[Sequence[int]], k: int = 10,
              batch_size: int = 64) -> list[RecInference]:
    """Top-k recommendations and abductive-step attention for each history (user ids)."""
    if k < 1 or k > rec.n_items:
        raise BadInputError(f"k={k} must be between 1 and {rec.n_items}")
    internal = [rec.to_internal(list(h))[-(rec.max_len - 1):] for h in histories]
    if any(len(h) == 0 for h in internal):
        raise BadInputError("every history needs at least one item")
    if any(rec.n_items - len(set(h.tolist())) < k for h in internal):
        raise BadInputError(f"k={k}: some history leaves fewer than {k} unseen items")
    rec.model.eval()
    device = model_device(rec.model)
    results: list[RecInference] = []
    for start in range(0, len(internal), batch_size):
        hs = internal[start:start + batch_size]
        logits = exclude(next_item_logits(rec, hs, batch_size), hs)
        scores, top = torch.topk(logits, k, dim=1)
        seqs = [np.append(h, int(t)) for h, t in zip(hs, top[:, 0].tolist())]
        with torch.no_grad():
            batch = pad_batch(seqs, rec.max_len)
            out = rec.model(**{k: v.to(device) for k, v in batch.items()}, output_attentions=True)
        if len(out.attentions) != rec.model.config.num_hidden_layers:
            raise BadInputError("the BERT4Rec model returned no attentions (needs eager attention)")
        last = out.attentions[-1].float().cpu().numpy()
        width = last.shape[-1]
        for row, (h, s) in enumerate(zip(hs, seqs)):
            n = len(s)
            results.append(RecInference(
                history=rec.to_external(h), topk=rec.to_external(top[row].numpy()),
                scores=scores[row].numpy().astype(np.float32),
                attention=np.ascontiguousarray(last[row, :, width - n:, width - n:],
                                               dtype=np.float32)))
    return results


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
        # Lead of the original top-1 after each removal: its logit minus the best other
        # unseen item's (< 0: the top-1 changed); read by the search's stop rule.
        self.leads: dict[tuple[int, ...], float] = {}
        self._top1_internal = int(self.rec.to_internal([self.top1])[0])

    def __call__(self, candidates: Sequence[tuple[int, ...]], until_hit: bool = False) -> list[bool]:
        """Per candidate: does removing those history positions change the top-1 item?
        (``until_hit`` is accepted for the search's sake; every verdict is exact here.)"""
        cands = [tuple(int(p) for p in c) for c in candidates]
        length = len(self.history) + 1
        check_positions(cands, length, self.inference.target)
        changed: list[bool] = []
        for start in range(0, len(cands), self.max_batch):
            part = cands[start:start + self.max_batch]
            hists = [np.delete(self.history, list(c)) for c in part]
            logits = next_item_logits(self.rec, hists, batch_size=self.max_batch)
            self.forward_passes += 1
            self.rows += len(part)
            logits = exclude(logits, [self.history] * len(part))
            own = logits[:, self._top1_internal].clone()
            others = logits.clone()
            others[:, self._top1_internal] = -torch.inf
            self.leads.update(zip(part, (own - others.max(dim=1).values).double().tolist()))
            new = self.rec.to_external(logits.argmax(dim=1).numpy())
            for cand, item in zip(part, new.tolist()):
                hit = int(item) != self.top1
                if hit:
                    rank = self.topk.index(item) + 1 if item in self.topk else None
                    self.accepted[cand] = RecOutcome(int(item), rank)
                changed.append(hit)
        return changed
