"""CLEANN as an explainer: per head, attention -> PAG -> PDS tree; then the search over heads.

Why a class: the pipeline (``cleann explain``), the evaluation and the benchmarks must run
CLEANN the same way and read the same result type as every baseline. Head choice, node
plans and the search mode are options of this class; the work itself is in
``cleann.causal`` (``multihead``: learn every head, search them in one of three modes).

``sets`` are the distinct accepted position sets best first by ``(size, dist_sum, head,
rank)`` (``cleann.causal.multihead``), so ``best_set`` is the sample's rank-0 explanation.
``detail`` is the list of per-head outcomes (graph edges, sets, counts, seconds) the store
writes. ``candidates``: every position some head's PDS tree may remove, ascending.
"""
from __future__ import annotations

from typing import Any

from cleann.causal.multihead import (
    FIRST_HIT_CHUNK, SEARCHES, HeadOutcome, Verdicts, head_outcomes, learn_heads, search_heads,
)
from cleann.explainers.base import Cost, Explainer, Explanation, Sample

# Defaults chosen from measurements on real snippets and users (docs/engine.md, "Defaults").
DEFAULT_MAX_SET_SIZE = {"text": 3, "rec": 3}
DEFAULT_MAX_MODEL_ROWS = 2000


def accepted_detail(tester: Any, positions: tuple[int, ...]) -> tuple[int | None, int | None]:
    """(flipped_to, replacement_rank) the model tester recorded for an accepted set."""
    outcome = (getattr(tester, "accepted", None) or {}).get(tuple(positions))
    if outcome is None:
        return None, None
    flipped = getattr(outcome, "new_class", None)
    if flipped is None:
        flipped = getattr(outcome, "new_top1", None)
    rank = getattr(outcome, "rank_in_original_topk", None)
    return (None if flipped is None else int(flipped)), (None if rank is None else int(rank))


class Cleann(Explainer):
    """CLEANN (Rohekar et al., NeurIPS 2023) over the chosen heads of the last layer.

    ``num_samples`` is N of the Fisher-z test (the model's hidden size). ``max_set_size``
    None means the kind's default (``DEFAULT_MAX_SET_SIZE``); pass ``unbounded=True`` with
    it to search every size. ``max_model_rows`` None means no row budget.
    """

    name = "cleann"

    def __init__(self, *, num_samples: int, heads: str = "all", nodes: str = "all", learner: str = "icd",
                 alpha: float = 0.01, legacy_negative_pcorr: bool = False, max_set_size: int | None = None,
                 unbounded: bool = False, max_range: int | None = None, max_cond_size: int | None = None,
                 search: str = "first", max_model_rows: int | None = DEFAULT_MAX_MODEL_ROWS,
                 chunk_rows: int = FIRST_HIT_CHUNK, stop_ratio: float | None = None) -> None:
        from cleann.pipeline.params import parse_heads, parse_nodes

        if search not in SEARCHES:
            raise ValueError(f"search {search!r}: use one of {', '.join(SEARCHES)}")
        if max_model_rows is not None and max_model_rows < 1:
            raise ValueError(f"max_model_rows {max_model_rows} must be at least 1 (or None)")
        if max_set_size is not None and max_set_size < 0:
            raise ValueError(f"max_set_size {max_set_size} must not be negative")
        parse_heads(heads)
        parse_nodes(nodes)
        self.num_samples = int(num_samples)
        self.heads, self.nodes, self.learner, self.alpha = heads, nodes, learner, float(alpha)
        self.legacy_negative_pcorr = bool(legacy_negative_pcorr)
        self.max_set_size, self.unbounded = max_set_size, bool(unbounded)
        self.max_range, self.max_cond_size = max_range, max_cond_size
        self.search, self.max_model_rows, self.chunk_rows = search, max_model_rows, int(chunk_rows)
        if stop_ratio is not None and not 0.0 <= stop_ratio:  # NaN fails too
            raise ValueError(f"stop_ratio {stop_ratio} must be a number >= 0 or None")
        self.stop_ratio = stop_ratio

    @classmethod
    def from_params(cls, params: Any, num_samples: int, **options: Any) -> Cleann:
        """The explainer a pipeline run's ``ExplainParams`` describe."""
        return cls(num_samples=num_samples, heads=params.heads, nodes=params.nodes, learner=params.learner,
                   alpha=params.alpha, legacy_negative_pcorr=params.legacy_negative_pcorr,
                   max_set_size=params.max_set_size, unbounded=params.max_set_size is None,
                   max_range=params.max_range, max_cond_size=params.max_cond_size, search=params.search,
                   max_model_rows=params.max_model_rows, stop_ratio=params.stop_ratio, **options)

    def set_limit(self, kind: str) -> int | None:
        """The largest set size searched for a sample of ``kind``."""
        if self.max_set_size is not None:
            return self.max_set_size
        return None if self.unbounded else DEFAULT_MAX_SET_SIZE[kind]

    def _explain(self, sample: Sample) -> Explanation:
        from cleann.pipeline.nodes import head_matrices, plan_nodes

        if sample.tester is None:
            raise ValueError(f"sample {sample.sample_id}: CLEANN needs the sample's removal tester")
        view = sample.view
        heads = [(h, m, plan_nodes(m, view.target, self.nodes, view.word_ids))
                 for h, m in head_matrices(view.attention, self.heads)]
        learned = learn_heads(heads, num_samples=self.num_samples, alpha=self.alpha, learner=self.learner,
                              legacy_negative_pcorr=self.legacy_negative_pcorr, max_cond_size=self.max_cond_size,
                              max_range=self.max_range)
        verdicts = Verdicts(sample.tester, self.max_model_rows)
        found = search_heads(learned, verdicts, search=self.search, max_set_size=self.set_limit(sample.kind),
                             chunk_rows=self.chunk_rows, stop_ratio=self.stop_ratio)
        outcomes: list[HeadOutcome] = head_outcomes(found, view.target,
                                                    lambda pos: accepted_detail(sample.tester, pos))
        sets = tuple(dict.fromkeys(positions for *_, positions in found.ranked()))
        candidates = sorted({p for hg in learned for n in hg.tree.candidates for p in hg.plan.to_positions((n,))})
        cost = Cost(graph_seconds=found.graph_s, search_seconds=found.search_s, model_seconds=found.tester_s,
                    forward_rows=found.rows)
        return Explanation(self.name, tuple(candidates), sets, status=found.status, reason=found.reason,
                           cost=cost, detail=outcomes)
