"""One sample prepared for attribution: ids, a differentiable output, what is explained.

Why: Captum and the attention baselines only need "token ids in, class scores out, which
output, which positions may be removed". Building that once per task (text
classification, BERT4Rec) keeps every baseline task-agnostic.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass
class ModelInput:
    """``forward(ids[n, L]) -> probs[n, C]``; ``target``: the explained output index.

    ``embedding``: the layer Captum attributes at (the input embeddings).
    ``reference_ids``: the "nothing here" input (removable positions replaced by the
    removal token) used as the integrated-gradients baseline.
    ``attention``: last-layer attention [H, L', L'] from the shared inference pass and
    ``target_pos``, the row of the explained output (CLS, or the appended item).
    ``call_kwargs``: extra model inputs for a single row (broadcast to a batch).
    """

    model: torch.nn.Module
    embedding: torch.nn.Module
    input_ids: torch.Tensor
    reference_ids: torch.Tensor
    candidates: tuple[int, ...]
    target: int
    attention: np.ndarray
    target_pos: int
    call_kwargs: dict
    output: Callable[[torch.Tensor], torch.Tensor]
    tokenizer: Any = None  # text only: SHAP's masker tokenizes with it
    removal: str = "pad"   # text only: what a removed token becomes (REMOVAL_TOKEN)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Probabilities of every output for a batch of (possibly interpolated) inputs."""
        n = ids.shape[0]
        kwargs = {k: v.expand(n, *v.shape[1:]) for k, v in self.call_kwargs.items()}
        return self.output(self.model(input_ids=ids, **kwargs))

    @property
    def length(self) -> int:
        return int(self.input_ids.shape[1])


REMOVAL_TOKEN = {"pad": "pad_token_id", "mask": "mask_token_id", "delete": "pad_token_id"}


def text_input(model: torch.nn.Module, tokenizer, inference, removal: str = "pad") -> ModelInput:
    """A classifier sample from :class:`cleann.models.sentiment.TextInference`.

    The reference input replaces real tokens by the tester's removal token ([PAD] for
    deletion, which has no interpolation path), keeping [CLS]/[SEP].
    """
    ids = torch.as_tensor(np.asarray(inference.token_ids, dtype=np.int64))[None, :]
    special = np.asarray(inference.special_mask, dtype=bool)
    fill = getattr(tokenizer, REMOVAL_TOKEN[removal])
    reference = ids.clone()
    reference[0, torch.from_numpy(~special)] = int(fill)
    device = next(model.parameters()).device  # --device: inputs follow the model
    ids, reference = ids.to(device), reference.to(device)
    return ModelInput(
        model=model, embedding=model.get_input_embeddings(), input_ids=ids,
        reference_ids=reference, candidates=tuple(int(i) for i in np.flatnonzero(~special)),
        target=int(inference.pred), attention=np.asarray(inference.attention), target_pos=0,
        call_kwargs={"attention_mask": torch.ones_like(ids)},
        output=lambda out: torch.softmax(out.logits.float(), dim=-1), tokenizer=tokenizer, removal=removal,
    )


def rec_input(rec, inference) -> ModelInput:
    """A BERT4Rec sample from :class:`cleann.models.bert4rec.RecInference`.

    Input: history + [MASK]; output: next-item probabilities with [PAD], [MASK] and the
    history excluded (as ``recommend`` does); target: the top-1 item. Reference: [PAD]
    (a zero embedding) at every history position. Positions 0..L-1 are the history,
    matching the rows of the abductive attention (whose last row is the target).
    """
    from cleann.models.bert4rec import pad_batch

    hist = rec.to_internal(list(inference.history))
    seq = np.append(hist, rec.mask_id)
    device = next(rec.model.parameters()).device  # --device: inputs follow the model
    batch = {k: v.to(device) for k, v in pad_batch([seq], rec.max_len).items()}
    ids = batch.pop("input_ids")
    reference = ids.clone()
    reference[0, : len(hist)] = 0
    blocked = torch.zeros(rec.n_items + 2, dtype=torch.bool, device=device)
    blocked[[0, rec.mask_id]] = True
    blocked[torch.from_numpy(hist).to(device)] = True

    def output(out) -> torch.Tensor:
        logits = out.logits[:, -1, :].float().masked_fill(blocked, -torch.inf)
        return torch.softmax(logits, dim=-1)

    return ModelInput(
        model=rec.model, embedding=rec.model.get_input_embeddings(), input_ids=ids,
        reference_ids=reference, candidates=tuple(range(len(hist))),
        target=int(rec.to_internal([int(inference.topk[0])])[0]),
        attention=np.asarray(inference.attention), target_pos=len(hist),
        call_kwargs=batch, output=output,
    )
