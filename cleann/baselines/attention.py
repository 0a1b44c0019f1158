"""Attention baselines: last-layer attention to the target, and attention rollout.

Why these two: the paper compares CLEANN with raw attention weights; rollout (Abnar &
Zuidema 2020) is the standard fix for attention ignoring the residual stream and the
lower layers. Neither needs gradients; raw attention reuses the inference pass.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from cleann.baselines.base import Attribution, measured
from cleann.baselines.inputs import ModelInput


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


def explain_attention(mi: ModelInput) -> Attribution:
    """Head-mean last-layer attention of the target row (no extra model pass)."""
    start = time.perf_counter()
    scores = attention_to_target(mi.attention, mi.target_pos).mean(axis=0)
    return Attribution("attention", mi.candidates, scores=_fit(scores, mi.length),
                       seconds=time.perf_counter() - start)


def explain_attention_heads(mi: ModelInput) -> list[Attribution]:
    """One ranking per last-layer head (CLEANN also treats heads separately)."""
    start = time.perf_counter()
    rows = attention_to_target(mi.attention, mi.target_pos)
    seconds = (time.perf_counter() - start) / len(rows)
    return [Attribution(f"attention_h{h}", mi.candidates, scores=_fit(r, mi.length),
                        seconds=seconds, extra={"head": h}) for h, r in enumerate(rows)]


def explain_rollout(mi: ModelInput, residual: float = 0.5) -> Attribution:
    """Attention rollout from the output position over all layers (one forward pass)."""
    with measured(mi.model) as cost, torch.no_grad():
        n = mi.input_ids.shape[0]
        kwargs = {k: v.expand(n, *v.shape[1:]) for k, v in mi.call_kwargs.items()}
        out = mi.model(input_ids=mi.input_ids, output_attentions=True, **kwargs)
        if not out.attentions:
            raise ValueError("the model returned no attentions; load it with eager attention")
        stacked = torch.stack([a[0] for a in out.attentions]).float().numpy()
        scores = attention_rollout(stacked, residual)[mi.target_pos]
    return Attribution("rollout", mi.candidates, scores=scores, **cost)


def _fit(scores: np.ndarray, length: int) -> np.ndarray:
    """Scores over the model input's positions (the abductive row may have one more)."""
    out = np.zeros(length, dtype=np.float32)
    n = min(length, len(scores))
    out[:n] = scores[:n]
    return out
