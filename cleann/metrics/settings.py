"""Evaluation settings and the machine description stored with every evaluation.

Why a value object: the flow, the CLI, the tasks and the benchmark pass the same knobs
(explainers, IG steps, SHAP budget, flip budget) as one JSON string, like the pipeline's
ExplainParams, so tasks receive small picklable arguments.
"""
from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, fields

from cleann.errors import BadInputError


@dataclass(frozen=True)
class EvalSettings:
    explainers: tuple[str, ...]
    n_steps: int = 50          # integrated-gradients steps
    ig_batch_size: int = 25    # IG steps per forward/backward batch
    shap_max_evals: int = 500  # SHAP Partition model evaluations per sample
    max_k: int | None = None   # tokens-to-flip budget (None: all candidates)
    chunk: int = 32            # prefixes per removal batch while searching for a flip

    def __post_init__(self) -> None:
        if self.n_steps < 1 or self.ig_batch_size < 1 or self.shap_max_evals < 2 or self.chunk < 1:
            raise BadInputError("n_steps, ig_batch_size and chunk must be >= 1, shap_max_evals >= 2")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EvalSettings:
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        data["explainers"] = tuple(data["explainers"])
        return cls(**data)


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
