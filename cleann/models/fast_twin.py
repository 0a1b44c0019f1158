"""A weight-sharing twin of a transformers model that runs SDPA attention.

Why: attention capture needs eager attention (SDPA returns no weights), but the passes
that only need outputs (CLEANN's tester, the gradient and SHAP baselines, ERASER) are
~1.6x faster per row with SDPA on this CPU (MiniLM, 30 tokens: 5.1 -> 3.2 ms/row). The
twin shares every parameter and buffer with the original, so it costs no memory for
weights and always computes the same function (up to float rounding).
"""
from __future__ import annotations

import copy
import itertools

import torch


def sdpa_twin(model: torch.nn.Module) -> torch.nn.Module:
    """``model``'s modules again, same tensors, SDPA attention; ``model`` if unsupported."""
    shared = {id(t): t for t in itertools.chain(model.parameters(), model.buffers())}
    twin = copy.deepcopy(model, shared)
    try:
        twin.set_attn_implementation("sdpa")
    except (ValueError, AttributeError, ImportError):  # architecture without SDPA support
        return model
    twin.eval()
    return twin
