"""Gradient baselines through Captum: gradient x input and integrated gradients.

Why Captum: both are standard, and Captum's layer variants attribute at the embedding
layer (token ids are not differentiable), batching IG's interpolation steps itself
(``internal_batch_size``). Per-position score = attribution summed over hidden units,
for the probability of the explained output.
"""
from __future__ import annotations

import torch
from captum.attr import LayerGradientXActivation, LayerIntegratedGradients

from cleann.baselines.base import Attribution, measured
from cleann.baselines.inputs import ModelInput


def explain_gxi(mi: ModelInput) -> Attribution:
    """Gradient x input at the embedding output (one forward, one backward)."""
    method = LayerGradientXActivation(mi.forward, mi.embedding)
    with measured(mi.model) as cost:
        attr = method.attribute(mi.input_ids, target=mi.target)
    return Attribution("gxi", mi.candidates, scores=_per_position(attr), **cost)


def explain_ig(mi: ModelInput, n_steps: int = 50, internal_batch_size: int = 25) -> Attribution:
    """Integrated gradients from the removal-token reference (``n_steps`` rows, batched)."""
    method = LayerIntegratedGradients(mi.forward, mi.embedding)
    with measured(mi.model) as cost:
        attr = method.attribute(mi.input_ids, baselines=mi.reference_ids, target=mi.target,
                                n_steps=n_steps, internal_batch_size=internal_batch_size)
    return Attribution("ig", mi.candidates, scores=_per_position(attr), extra={"n_steps": n_steps},
                       **cost)


def _per_position(attr: torch.Tensor) -> "np.ndarray":  # noqa: F821
    return attr.detach().sum(dim=-1)[0].float().numpy()
