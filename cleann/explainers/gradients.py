"""Gradient baselines through Captum: gradient x input and integrated gradients.

Why Captum: both are standard, and Captum's layer variants attribute at the embedding
layer (token ids are not differentiable), batching IG's interpolation steps itself
(``internal_batch_size``). Per-position score = attribution summed over hidden units,
for the probability of the explained output.
"""
from __future__ import annotations

import numpy as np
import torch

from cleann.explainers.base import Cost, Explainer, Explanation, Sample
from cleann.explainers.counting import ModelWork, model_work


class GradientXInput(Explainer):
    """Gradient x input at the embedding output (one forward, one backward row)."""

    name = "gxi"

    def __init__(self) -> None:
        from captum.attr import LayerGradientXActivation  # imported here: explain() times only the method

        self._method = LayerGradientXActivation

    def _explain(self, sample: Sample) -> Explanation:
        mi = sample.get_model_input()
        method = self._method(mi.forward, mi.embedding)
        with model_work(mi.model) as work:
            attr = method.attribute(mi.input_ids, target=mi.target)
        return _ranking(self.name, mi, attr, work)


class IntegratedGradients(Explainer):
    """Integrated gradients from the removal-token reference (``n_steps`` rows, batched)."""

    name = "ig"

    def __init__(self, n_steps: int = 50, internal_batch_size: int = 25) -> None:
        from captum.attr import LayerIntegratedGradients  # imported here: explain() times only the method

        self._method = LayerIntegratedGradients
        self.n_steps, self.internal_batch_size = int(n_steps), int(internal_batch_size)

    def _explain(self, sample: Sample) -> Explanation:
        mi = sample.get_model_input()
        method = self._method(mi.forward, mi.embedding)
        with model_work(mi.model) as work:
            attr = method.attribute(mi.input_ids, baselines=mi.reference_ids, target=mi.target,
                                    n_steps=self.n_steps, internal_batch_size=self.internal_batch_size)
        return _ranking(self.name, mi, attr, work)


def _ranking(name: str, mi, attr: torch.Tensor, work: ModelWork) -> Explanation:
    scores = attr.detach().sum(dim=-1)[0].float().cpu().numpy().astype(np.float32)
    return Explanation(name, mi.candidates, scores=scores,
                       cost=Cost(model_seconds=work.seconds, forward_rows=work.forward_rows,
                                 backward_rows=work.backward_rows))
