"""What every explainer returns, so CLEANN and the baselines share one evaluation path.

Why: metrics only need (a) a ranking of removable input positions or (b) a set of
positions, plus what producing it cost. Keeping that in one small value type lets the
metrics, the store and the report treat CLEANN and every baseline alike.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class Attribution:
    """One explainer's answer for one sample.

    ``scores``: float32[L] per input position (higher = more support for the explained
    output), or None for set explainers. ``positions``: the explanation set for set
    explainers (CLEANN), else None. ``candidates``: positions that may be removed
    (real tokens / history items), in ascending order. Passes count model rows
    (one sequence through the model = one pass), on top of the shared inference pass.
    """

    explainer: str
    candidates: tuple[int, ...]
    scores: np.ndarray | None = None
    positions: tuple[int, ...] | None = None
    forward_passes: int = 0
    backward_passes: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def is_ranking(self) -> bool:
        return self.scores is not None

    def ranking(self) -> tuple[int, ...]:
        """Candidate positions by descending score (ties: lower position first)."""
        if self.scores is None:
            raise ValueError(f"{self.explainer} gives a set, not a ranking")
        cand = np.asarray(self.candidates, dtype=np.int64)
        order = np.lexsort((cand, -np.asarray(self.scores, dtype=np.float64)[cand]))
        return tuple(int(p) for p in cand[order])


class PassCounter:
    """Counts sequences through ``model`` forward and gradients flowing back from it.

    Why: cost per explainer must be comparable across Captum, SHAP and CLEANN, whose
    batching differs; rows through the model are what they share. Backward rows are
    counted by a gradient hook on the model's first output tensor.
    """

    def __init__(self, model: torch.nn.Module):
        self.model = model
        self.forward = 0
        self.backward = 0

    def _on_forward(self, _module, _inputs, output) -> None:
        tensor = _first_tensor(output)
        if tensor is None:
            return
        self.forward += int(tensor.shape[0])
        if tensor.requires_grad:
            tensor.register_hook(self._on_backward)

    def _on_backward(self, grad: torch.Tensor) -> None:
        self.backward += int(grad.shape[0])

    @contextmanager
    def counting(self) -> Iterator[PassCounter]:
        handle = self.model.register_forward_hook(self._on_forward)
        try:
            yield self
        finally:
            handle.remove()


def _first_tensor(output) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output
    values = output.values() if isinstance(output, dict) else output
    for value in values:
        if isinstance(value, torch.Tensor):
            return value
    return None


@contextmanager
def measured(model: torch.nn.Module) -> Iterator[dict]:
    """Time a block and count its model passes; results land in the yielded dict."""
    counter = PassCounter(model)
    box: dict = {}
    start = time.perf_counter()
    with counter.counting():
        yield box
    box.update(seconds=time.perf_counter() - start, forward_passes=counter.forward,
               backward_passes=counter.backward)
