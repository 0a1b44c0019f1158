"""Explanation search over a PDS tree (golden FORMAT §8.3), with a batched tester.

Why batched: a tester usually runs a model forward pass per candidate; handing it all
legal candidates of one size at once lets it batch them. The reference tests every
candidate of a size before deciding to stop, so batching per size changes neither the
results nor the count of tested sets.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cleann.causal.pag import PAG
from cleann.causal.pds_tree import PDSTree, Subset, build_pds_tree
from cleann.errors import BadInputError

Tester = Callable[[list[Subset]], Sequence[bool]]


@dataclass
class SearchResult:
    """Accepted sets ``(set, dist_sum)`` in the reference order, and the tree searched."""

    results: list[tuple[Subset, int]]
    tester_calls: int
    tree: PDSTree

    @property
    def candidates(self) -> tuple[int, ...]:
        return self.tree.candidates


def search_tree(
    tree: PDSTree, tester: Tester, *, search_minimal: bool = True, max_set_size: int | None = None
) -> SearchResult:
    """Test legal subsets of sizes 1..K (K = ``max_set_size`` or |F|), one batch per size."""
    if max_set_size is not None and max_set_size < 0:
        raise BadInputError(f"max_set_size must be >= 0 or None, got {max_set_size}")
    limit = len(tree.candidates) if max_set_size is None else min(max_set_size, len(tree.candidates))
    results: list[tuple[Subset, int]] = []
    calls = 0
    for k in range(1, limit + 1):
        batch = tree.legal_subsets(k)
        if not batch:  # no legal set of size k means none of any larger size
            break
        sets = [s for s, _ in batch]
        verdicts = list(tester(sets))
        if len(verdicts) != len(sets):
            raise BadInputError(f"tester returned {len(verdicts)} answers for {len(sets)} candidates")
        calls += len(sets)
        results.extend(item for item, ok in zip(batch, verdicts) if ok)
        if search_minimal and results:
            break
    return SearchResult(results, calls, tree)


def search_explanations(
    pag: PAG,
    target: int,
    tester: Tester,
    *,
    search_minimal: bool = True,
    max_set_size: int | None = None,
    max_range: int | None = None,
) -> SearchResult:
    """Explain ``target`` on an already learned PAG (reuse one graph for many targets).

    ``pag`` may also be a ``LearnedGraph``. ``max_range`` None means |nodes| - 1; 0
    behaves as 1 (reference semantics).
    """
    pag = getattr(pag, "pag", pag)
    if target not in pag.nodes:
        raise BadInputError(f"target {target} is not one of the graph's nodes {list(pag.nodes)}")
    if max_range is not None and max_range < 0:
        raise BadInputError(f"max_range must be >= 0 or None, got {max_range}")
    depth = len(pag.nodes) - 1 if max_range is None else max_range
    tree = build_pds_tree(pag, target, depth)
    return search_tree(tree, tester, search_minimal=search_minimal, max_set_size=max_set_size)


def contains_any(sets: Sequence[Sequence[int]]) -> Tester:
    """The golden cases' tester (FORMAT §4): accept a candidate containing any listed set."""
    wanted = [frozenset(s) for s in sets]

    def tester(candidates: list[Subset]) -> list[bool]:
        return [any(w <= set(c) for w in wanted) for c in candidates]

    return tester
