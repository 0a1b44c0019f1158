"""What explainers share below the contract: removable positions and a model-row counter.

Why here: every explainer's ``Cost`` counts rows the same way (one sequence through the
model = one row; a gradient flowing back from one sequence = one backward row), whatever
library batches them (Captum, SHAP, the removal tester).
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from cleann.explainers.base import Sample


def removable_positions(sample: Sample) -> tuple[int, ...]:
    """Positions a removal may touch: real tokens (text) / history items (rec), ascending."""
    return tuple(int(i) for i in np.flatnonzero(~np.asarray(sample.view.special, dtype=bool)))


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


@dataclass
class ModelWork:
    """Seconds and rows of one block of model work (see :func:`model_work`)."""

    seconds: float = 0.0
    forward_rows: int = 0
    backward_rows: int = 0


@contextmanager
def model_work(model: torch.nn.Module) -> Iterator[ModelWork]:
    """Time a block of model work and count its rows; the result fills the yielded box."""
    counter = PassCounter(model)
    box = ModelWork()
    start = time.perf_counter()
    with counter.counting():
        yield box
    box.seconds, box.forward_rows, box.backward_rows = (time.perf_counter() - start, counter.forward,
                                                        counter.backward)
