"""Synthetic attention matrices built like the golden generator's (FORMAT §11).

Why: the graph-speed benchmark needs inputs at sizes no real sentence reaches, with the
same structure as real heads: row-softmax of ``scale * normal`` logits with one or two
"attention sink" columns, rounded to 10 significant digits.
"""
from __future__ import annotations

import numpy as np


def synthetic_attention(
    size: int, seed: int, logit_scale: float = 2.0, sink_columns: tuple[int, ...] = (0,), sink_bias: float = 3.0
) -> np.ndarray:
    """An L x L row-stochastic matrix: softmax rows of ``logit_scale * N(0, 1)`` logits with
    ``sink_bias`` added to ``sink_columns`` (``numpy.random.default_rng(seed)``)."""
    rng = np.random.default_rng(seed)
    logits = logit_scale * rng.standard_normal((size, size))
    logits[:, list(sink_columns)] += sink_bias
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    attention = weights / weights.sum(axis=1, keepdims=True)
    return np.array([float(f"{v:.10g}") for v in attention.ravel()]).reshape(size, size)


def bench_attention(size: int, seed: int) -> np.ndarray:
    """The benchmark's input for (size, seed): one sink at column 0 for even seeds, two
    (0 and L-1) for odd seeds; logit scale 1.5-3 and sink bias 2-4 vary with the seed."""
    scale = (1.5, 2.0, 2.5, 3.0)[seed % 4]
    bias = (2.0, 3.0, 4.0)[seed % 3]
    sinks = (0,) if seed % 2 == 0 else (0, size - 1)
    return synthetic_attention(size, seed, scale, sinks, bias)
