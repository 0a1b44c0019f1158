"""Attention baselines: last-layer attention to the target, and attention rollout.

Why these two: the paper compares CLEANN with raw attention weights; rollout (Abnar &
Zuidema 2020) is the standard fix for attention ignoring the residual stream and the
lower layers. Raw attention reuses the inference pass; rollout needs one forward pass
returning every layer's attention.
"""
from __future__ import annotations

import numpy as np
import torch

from cleann.explainers.base import Cost, Explainer, Explanation, Sample
from cleann.explainers.counting import model_work, removable_positions


def attention_to_target(attention: np.ndarray, target_pos: int) -> np.ndarray:
    """Rows ``attention[h, target_pos, :]`` as float32 [H, L]: how much the target reads each position."""
    return np.asarray(attention, dtype=np.float32)[:, target_pos, :]


def attention_rollout(attentions: np.ndarray, residual: float = 0.5) -> np.ndarray:
    """Rollout over layers: prod_l (residual*I + (1-residual)*mean_h A_l), rows renormalised.

    ``attentions``: [layers, H, L, L] (layer 0 first). Returns [L, L]; row i says how
    much position i's final representation draws on each input position.
    """
    att = np.asarray(attentions, dtype=np.float64).mean(axis=1)
    eye = np.eye(att.shape[-1])
    mixed = residual * eye + (1.0 - residual) * att
    mixed /= mixed.sum(axis=-1, keepdims=True)
    rolled = eye
    for layer in mixed:
        rolled = layer @ rolled
    return rolled.astype(np.float32)


class Attention(Explainer):
    """Head-mean last-layer attention of the target row (no model pass: the inference's)."""

    name = "attention"

    def _explain(self, sample: Sample) -> Explanation:
        scores = attention_to_target(sample.view.attention, sample.view.target).mean(axis=0)
        return Explanation(self.name, removable_positions(sample), scores=scores)


class Rollout(Explainer):
    """Attention rollout from the output position over all layers (one forward pass)."""

    name = "rollout"

    def __init__(self, residual: float = 0.5) -> None:
        self.residual = residual

    def _explain(self, sample: Sample) -> Explanation:
        mi = sample.get_model_input()
        with model_work(mi.model) as work, torch.no_grad():
            n = mi.input_ids.shape[0]
            kwargs = {k: v.expand(n, *v.shape[1:]) for k, v in mi.call_kwargs.items()}
            out = mi.model(input_ids=mi.input_ids, output_attentions=True, **kwargs)
            if not out.attentions:
                raise ValueError("the model returned no attentions; load it with eager attention")
            stacked = torch.stack([a[0] for a in out.attentions]).float().cpu().numpy()
        scores = attention_rollout(stacked, self.residual)[mi.target_pos]
        return Explanation(self.name, mi.candidates, scores=scores,
                           cost=Cost(model_seconds=work.seconds, forward_rows=work.forward_rows))
