"""Evaluation settings and the machine description stored with every evaluation.

Why a value object: the flow, the CLI, the tasks and the benchmark pass the same knobs
(explainers, IG steps, SHAP budget, flip budget) as one JSON string, like the pipeline's
ExplainParams, so tasks receive small picklable arguments.
"""
from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields

from cleann.errors import BadInputError
from cleann.pipeline.params import Option, check_fields, option

# "cleann" is read from the explain run until its explainer class is registered.
DEFAULT_EXPLAINERS = ("cleann", "attention", "rollout", "gxi", "ig", "shap", "oracle")


@dataclass(frozen=True)
class EvalSettings:
    # Declared once with option(): `cleann evaluate` generates its flags from these fields.
    explainers: tuple[str, ...] = field(metadata={"option": Option("explainers to run", cli=False)})
    n_steps: int = option(50, "integrated-gradients steps", ge=1)
    ig_batch_size: int = option(25, "IG steps per forward/backward batch", ge=1)
    shap_max_evals: int = option(500, "SHAP Partition model evaluations per sample", ge=2)
    max_k: int | None = option(None, "tokens-to-flip budget (None: all candidates); `cleann evaluate` sets "
                                     "it to --max-set-size, CLEANN's budget", ge=0, cli=False)
    chunk: int = option(32, "prefixes per removal batch while searching for a flip", ge=1)
    max_rows: int = option(5000, "oracle: model rows per sample before it gives up (status 'budget')", ge=1,
                           flag="--oracle-max-rows")

    def __post_init__(self) -> None:
        check_fields(self)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EvalSettings:
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        data["explainers"] = tuple(data["explainers"])
        return cls(**data)


def known_explainers() -> tuple[str, ...]:
    """Names `--explainers` accepts: the explainer registry, plus ``cleann`` (the explain run)."""
    from cleann.explainers import explainer_names

    return tuple(dict.fromkeys(("cleann", *explainer_names())))


def parse_explainers(spec: str | Sequence[str] | None, kind: str = "text") -> tuple[str, ...]:
    """``"cleann,ig"`` -> ("cleann", "ig"); unknown names and explainers that do not
    explain ``kind`` (text | rec; imdb | movielens accepted) are user errors; order kept."""
    from cleann.explainers import explainer_class
    from cleann.explainers.samples import BACKEND_KIND

    kind = BACKEND_KIND.get(kind, kind)
    known = known_explainers()
    if spec is None:  # the defaults that explain this kind
        spec = [n for n in DEFAULT_EXPLAINERS if n == "cleann" or kind in explainer_class(n).kinds]
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    stripped = [n.strip().lower() for n in names]
    if isinstance(spec, str) and len(stripped) > 1 and not all(stripped):
        raise BadInputError(f"--explainers {spec[:80]!r}: an empty name between commas; use e.g. cleann,ig")
    for name in stripped:
        if not name:
            continue
        if name in out:
            raise BadInputError(f"--explainers {spec if isinstance(spec, str) else ','.join(spec)!r}: "
                                f"{name!r} is named twice")
        if name not in known:
            raise BadInputError(f"explainer {name!r}: use any of {', '.join(known)}")
        if name != "cleann" and kind not in explainer_class(name).kinds:
            raise BadInputError(f"explainer {name!r} explains {'/'.join(explainer_class(name).kinds)} only, "
                                f"not {kind}")
        out.append(name)
    if not out:
        raise BadInputError("no explainer named; use e.g. --explainers cleann,attention,ig")
    return tuple(out)


def describe_machine() -> str:
    """CPU model, core count, torch threads and OS, for reports and benchmarks."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} with "
            f"{torch.get_num_threads()} threads, {platform.system()} {platform.release()}")
