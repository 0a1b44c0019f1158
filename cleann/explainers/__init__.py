"""Explainers found by name: ``get_explainer("ig", n_steps=50).explain(sample)``.

Why a dict of import paths: the CLI, the flows, the evaluation and the benchmarks agree on
names in one place, and heavy libraries (Captum, SHAP) are imported only when their
explainer is asked for. Add an explainer by writing its class and one line here.
"""
from __future__ import annotations

from importlib import import_module

from cleann.errors import BadInputError
from cleann.explainers.base import KINDS, STATUSES, Cost, Explainer, Explanation, Sample

# name -> "module:Class"; filled in as each explainer class lands.
REGISTRY: dict[str, str] = {
    "attention": "cleann.explainers.attention:Attention",
    "rollout": "cleann.explainers.attention:Rollout",
    "gxi": "cleann.explainers.gradients:GradientXInput",
    "ig": "cleann.explainers.gradients:IntegratedGradients",
    "shap": "cleann.explainers.shap:ShapPartition",
    "oracle": "cleann.explainers.oracle:Oracle",
    "cleann": "cleann.explainers.cleann:Cleann",
}


def explainer_names(kind: str | None = None) -> tuple[str, ...]:
    """Registered names, in registration order (only those that explain ``kind`` if given)."""
    if kind is None:
        return tuple(REGISTRY)
    return tuple(n for n in REGISTRY if kind in explainer_class(n).kinds)


def explainer_class(name: str) -> type[Explainer]:
    """The class registered under ``name``; an unknown name is a user error."""
    try:
        module, cls = REGISTRY[name].split(":")
    except KeyError:
        raise BadInputError(f"explainer {name!r}: use one of {', '.join(REGISTRY)}") from None
    return getattr(import_module(module), cls)


def get_explainer(name: str, **options) -> Explainer:
    """An instance of explainer ``name`` with its options (constructor keywords)."""
    return explainer_class(name)(**options)


__all__ = ["KINDS", "STATUSES", "REGISTRY", "Cost", "Explainer", "Explanation", "Sample",
           "explainer_class", "explainer_names", "get_explainer"]
