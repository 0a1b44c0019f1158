"""Public entry point: attention matrix -> PAG -> minimal explanations of a target.

Why two steps are exposed: learning the graph is the expensive part and does not depend
on the target, so ``learn_graph`` once and ``search_explanations`` per target is the way
to explain several positions of one attention matrix; ``explain_attention`` does both.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cleann.causal.citest import FisherZTest, attention_to_correlation
from cleann.causal.icd import learn_icd
from cleann.causal.pag import PAG
from cleann.causal.pds_tree import PDSTree, Subset
from cleann.causal.search import Tester, search_explanations
from cleann.errors import BadInputError

LEARNERS = ("icd", "fci")


@dataclass
class LearnedGraph:
    """A PAG over ``pag.nodes`` and what it cost to learn."""

    pag: PAG
    learner: str
    ci_tests: int
    seconds: float
    sepsets: dict = field(default_factory=dict, repr=False)


@dataclass
class Explanation:
    pag: PAG
    results: list[tuple[Subset, int]]  # (set, dist_sum) in the reference order
    tester_calls: int  # candidate sets handed to the tester
    candidates: tuple[int, ...]  # the full explanation set F
    pds_tree: PDSTree
    ci_tests: int
    seconds_graph: float
    seconds_search: float


def _check_attention(attention) -> np.ndarray:
    a = np.asarray(attention)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise BadInputError(f"attention must be a non-empty square L x L matrix, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise BadInputError(f"attention must hold real numbers, got dtype {a.dtype}")
    a = a.astype(np.float64, copy=False)
    if not np.isfinite(a).all():
        raise BadInputError("attention contains NaN or infinite values")
    if (a < 0).any():
        raise BadInputError(f"attention must be non-negative, minimum is {a.min():.3g}")
    return a


def _check_nodes(nodes: Sequence[int] | None, size: int) -> list[int]:
    if nodes is None:
        return list(range(size))
    try:
        out = [int(n) for n in nodes]
    except (TypeError, ValueError):
        raise BadInputError(f"nodes must be integer positions, got {nodes!r}") from None
    if len(set(out)) != len(out):
        raise BadInputError(f"nodes contain duplicates: {sorted(out)}")
    outside = [n for n in out if not 0 <= n < size]
    if outside:
        raise BadInputError(f"nodes {outside} are outside the attention's positions 0..{size - 1}")
    return sorted(out)


def learn_graph(
    attention: np.ndarray,
    *,
    nodes: Sequence[int] | None = None,
    num_samples: int,
    alpha: float = 0.01,
    learner: str = "icd",
    legacy_negative_pcorr: bool = False,
    max_cond_size: int | None = None,
) -> LearnedGraph:
    """Learn a PAG over ``nodes`` (default: all positions) from one attention matrix.

    ``num_samples`` is N of the Fisher-z test (the paper uses the embedding size);
    ``max_cond_size`` caps ICD's conditioning-set size (default: no cap; ICD only).
    """
    a = _check_attention(attention)
    node_list = _check_nodes(nodes, a.shape[0])
    if learner not in LEARNERS:
        raise BadInputError(f"learner must be one of {LEARNERS}, got {learner!r}")
    if max_cond_size is not None and (learner != "icd" or int(max_cond_size) < 0):
        raise BadInputError(f"max_cond_size must be a non-negative int and needs learner='icd', got {max_cond_size!r}")
    if learner == "fci":
        from cleann.causal.fci import learn_fci  # causal-learn is slow to import: only when asked

    start = time.perf_counter()
    corr = attention_to_correlation(a)
    ci_test = FisherZTest(corr, num_samples, alpha, legacy_negative_pcorr=legacy_negative_pcorr)
    if learner == "icd":
        res = learn_icd(node_list, ci_test, max_cond_size=max_cond_size)
        pag, ci_tests, sepsets = res.pag, res.ci_tests, dict(getattr(res, "sepsets", {}) or {})
    else:
        res = learn_fci(node_list, ci_test, size=a.shape[0])
        pag, ci_tests, sepsets = res.pag, res.ci_tests, {}
    return LearnedGraph(pag, learner, int(ci_tests), time.perf_counter() - start, sepsets)


def explain_attention(
    attention: np.ndarray,
    target: int,
    tester: Tester,
    *,
    nodes: Sequence[int] | None = None,
    num_samples: int,
    alpha: float = 0.01,
    learner: str = "icd",
    legacy_negative_pcorr: bool = False,
    search_minimal: bool = True,
    max_set_size: int | None = None,
    max_range: int | None = None,
    max_cond_size: int | None = None,
) -> Explanation:
    """Learn the graph and return the explanations of ``target`` (see ``search_explanations``).

    ``tester(candidates: list[tuple[int, ...]]) -> Sequence[bool]`` is called once per
    candidate size with all legal candidates of that size, in the reference order.
    """
    size = _check_attention(attention).shape[0]
    node_list = _check_nodes(nodes, size)
    if not isinstance(target, (int, np.integer)) or int(target) not in node_list:
        raise BadInputError(f"target {target!r} is not one of the nodes ({len(node_list)} positions)")
    if not callable(tester):
        raise BadInputError("tester must be callable: tester(list of candidate sets) -> list of bools")
    for name, value in (("max_set_size", max_set_size), ("max_range", max_range)):
        if value is not None and (not isinstance(value, (int, np.integer)) or value < 0):
            raise BadInputError(f"{name} must be a non-negative int or None, got {value!r}")
    graph = learn_graph(
        attention, nodes=node_list, num_samples=num_samples, alpha=alpha, learner=learner,
        legacy_negative_pcorr=legacy_negative_pcorr, max_cond_size=max_cond_size,
    )
    start = time.perf_counter()
    found = search_explanations(
        graph.pag, int(target), tester, search_minimal=search_minimal,
        max_set_size=max_set_size, max_range=max_range,
    )
    return Explanation(
        pag=graph.pag, results=found.results, tester_calls=found.tester_calls,
        candidates=found.candidates, pds_tree=found.tree, ci_tests=graph.ci_tests,
        seconds_graph=graph.seconds, seconds_search=time.perf_counter() - start,
    )
