"""Build a :class:`Sample` from one inference of a model back-end.

Why one function: the evaluation, the benchmark and the pipeline must hand every
explainer the same tester (same removal) and the same model input for the same view.
The differentiable model input is built lazily: only gradient explainers pay for it.
"""
from __future__ import annotations

from typing import Any

from cleann.explainers.base import Sample

BACKEND_KIND = {"imdb": "text", "movielens": "rec"}  # back-end kinds -> explainer kinds


def sample_from_view(sample_id: str, view: Any, backend: Any, removal: str = "pad",
                     text: str | None = None) -> Sample:
    """``view``: a ``SampleView`` from ``backend.infer``; ``text``: the text the model saw (SHAP)."""
    from cleann.baselines.inputs import rec_input, text_input

    kind = BACKEND_KIND.get(backend.kind, backend.kind)
    if kind == "text":
        def factory():
            return text_input(backend.model, backend.tokenizer, view.raw, removal)
    else:
        def factory():
            return rec_input(backend.rec, view.raw)
    return Sample(str(sample_id), kind, view, tester=backend.tester(view, removal), model_input=factory,
                  text=text)
