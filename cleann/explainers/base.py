"""The explainer contract: one class per method, one ``explain(sample)`` call, one result type.

Why: CLEANN, the attention/gradient/SHAP baselines and the exhaustive oracle must be run,
stored, timed and compared the same way (like Captum's ``attribute()``). The pipeline, the
evaluation and the benchmarks only ever see :class:`Sample` in and :class:`Explanation`
out; what an explainer does inside (graphs, gradients, removals) is its own business.
Cost is measured here, by the base class, so every explainer's seconds mean the same thing.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

KINDS = ("text", "rec")  # the two domains, one vocabulary from CLI to SQL
STATUSES = ("ok", "not_found", "budget")  # found a set / searched all allowed sizes / stopped by a budget

RemovalTester = Callable[[list[tuple[int, ...]]], Sequence[bool]]


@dataclass
class Sample:
    """One model decision to explain, prepared once and shared by every explainer.

    ``view``: the inference result (``cleann.pipeline.batch.SampleView``: last-layer
    attention [H, L, L], target row, tokens, word ids, special mask, prediction).
    ``tester``: batched removal test (positions -> does removing them change the output?),
    counting the model rows it runs. ``model_input``: the differentiable model input
    (``cleann.baselines.inputs.ModelInput``) or a zero-argument factory for it, built only
    by explainers that need gradients. ``text``: the raw text (SHAP's masker needs it).
    """

    sample_id: str
    kind: str
    view: Any
    tester: RemovalTester | None = None
    model_input: Any = None
    text: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"sample kind {self.kind!r}: use one of {', '.join(KINDS)}")

    def get_model_input(self) -> Any:
        """The ModelInput, built on first use (gradient explainers only)."""
        if callable(self.model_input) and not hasattr(self.model_input, "forward"):
            self.model_input = self.model_input()
        if self.model_input is None:
            raise ValueError(f"sample {self.sample_id}: this explainer needs a model input")
        return self.model_input


@dataclass(frozen=True)
class Cost:
    """Wall-clock seconds and model rows one ``explain`` call spent, inference excluded.

    ``seconds`` is measured by :meth:`Explainer.explain` around the whole call, so it is
    at least ``graph_seconds + search_seconds + model_seconds``. Rows count sequences through
    the model (forward) and gradients flowing back (backward), beyond the shared inference.
    """

    seconds: float = 0.0
    graph_seconds: float = 0.0
    search_seconds: float = 0.0
    model_seconds: float = 0.0
    forward_rows: int = 0
    backward_rows: int = 0


@dataclass
class Explanation:
    """One explainer's answer for one sample.

    ``sets``: ranked explanation sets of input positions, best first (set explainers such
    as CLEANN and the oracle; empty when none was found). ``scores``: float[L] per input
    position, higher = more support for the explained output (ranking explainers), else
    None. ``candidates``: the positions that may be removed, ascending. ``status`` is one
    of STATUSES and ``reason`` says why when it is not ``ok``. ``detail`` holds what only
    this explainer has (CLEANN: per-head graphs and sets) for the store.
    """

    explainer: str
    candidates: tuple[int, ...]
    sets: tuple[tuple[int, ...], ...] = ()
    scores: np.ndarray | None = None
    status: str = "ok"
    reason: str | None = None
    cost: Cost = field(default_factory=Cost)
    detail: Any = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"explanation status {self.status!r}: use one of {', '.join(STATUSES)}")

    @property
    def best_set(self) -> tuple[int, ...] | None:
        """The rank-0 set, or None when no set was found."""
        return self.sets[0] if self.sets else None

    @property
    def is_ranking(self) -> bool:
        return self.scores is not None

    def ranking(self) -> tuple[int, ...]:
        """Candidate positions by descending score (ties: lower position first)."""
        if self.scores is None:
            raise ValueError(f"{self.explainer} gives sets, not a ranking")
        cand = np.asarray(self.candidates, dtype=np.int64)
        order = np.lexsort((cand, -np.asarray(self.scores, dtype=np.float64)[cand]))
        return tuple(int(p) for p in cand[order])


class Explainer(ABC):
    """Base of every explainer. Subclasses set ``name`` (and ``kinds`` if not both) and
    implement :meth:`_explain`; options are constructor arguments.
    """

    name: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]] = KINDS

    def explain(self, sample: Sample) -> Explanation:
        """Explain one sample; the wall-clock of the whole call becomes ``cost.seconds``."""
        if sample.kind not in self.kinds:
            raise ValueError(f"explainer {self.name!r} explains {'/'.join(self.kinds)}, not {sample.kind}")
        start = time.perf_counter()
        result = self._explain(sample)
        return replace(result, explainer=self.name,
                       cost=replace(result.cost, seconds=time.perf_counter() - start))

    @abstractmethod
    def _explain(self, sample: Sample) -> Explanation:
        """The method itself; its ``cost.seconds`` is overwritten by :meth:`explain`."""
