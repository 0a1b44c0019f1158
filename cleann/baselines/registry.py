"""Explainer names accepted by `cleann evaluate --explainers` and how to run the baselines.

Why one place: the CLI, the flow and the benchmark must agree on names and options.
``cleann`` is not run here: its sets come from the pipeline's explain run (same samples,
same model), so evaluation reuses them instead of recomputing.
"""
from __future__ import annotations

from collections.abc import Sequence

from cleann.baselines.attention import explain_attention, explain_attention_heads, explain_rollout
from cleann.baselines.base import Attribution
from cleann.baselines.gradients import explain_gxi, explain_ig
from cleann.baselines.inputs import ModelInput
from cleann.errors import BadInputError

EXPLAINERS = ("cleann", "attention", "attention_heads", "rollout", "gxi", "ig", "shap")
DEFAULT_EXPLAINERS = ("cleann", "attention", "rollout", "gxi", "ig", "shap")
TEXT_ONLY = ("shap",)


def parse_explainers(spec: str | Sequence[str] | None, kind: str = "imdb") -> tuple[str, ...]:
    """``"cleann,ig"`` -> ("cleann", "ig"); unknown names are a user error; order kept."""
    names = DEFAULT_EXPLAINERS if spec is None else (
        [s for s in spec.split(",")] if isinstance(spec, str) else list(spec))
    out: list[str] = []
    for name in (n.strip().lower() for n in names):
        if not name:
            continue
        if name not in EXPLAINERS:
            raise BadInputError(f"explainer {name!r}: use any of {', '.join(EXPLAINERS)}")
        if kind != "imdb" and name in TEXT_ONLY:
            raise BadInputError(f"explainer {name!r} explains text only, not {kind}")
        if name not in out:
            out.append(name)
    if not out:
        raise BadInputError("no explainer named; use e.g. --explainers cleann,attention,ig")
    return tuple(out)


def run_baselines(mi: ModelInput, names: Sequence[str], *, tokenizer=None, text: str | None = None,
                  removal: str = "pad", n_steps: int = 50, ig_batch_size: int = 25,
                  shap_max_evals: int = 500) -> list[Attribution]:
    """Every requested baseline on one sample (``cleann`` is skipped: it comes from the run)."""
    out: list[Attribution] = []
    for name in names:
        if name == "attention":
            out.append(explain_attention(mi))
        elif name == "attention_heads":
            out.extend(explain_attention_heads(mi))
        elif name == "rollout":
            out.append(explain_rollout(mi))
        elif name == "gxi":
            out.append(explain_gxi(mi))
        elif name == "ig":
            out.append(explain_ig(mi, n_steps=n_steps, internal_batch_size=ig_batch_size))
        elif name == "shap":
            from cleann.baselines.shap_partition import explain_shap

            if tokenizer is None or text is None:
                raise BadInputError("explainer 'shap' needs the tokenizer and the sample text")
            out.append(explain_shap(mi, tokenizer, text, removal=removal, max_evals=shap_max_evals))
    return out
