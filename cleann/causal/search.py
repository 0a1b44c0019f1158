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


JointTester = Callable[[list[tuple[int, Subset]]], Sequence[bool]]


def search_trees_together(
    trees: Sequence[PDSTree], tester: JointTester, *, max_set_size: int | None = None
) -> list[SearchResult]:
    """Search several trees of one sample (one per head) size by size, together; stop all
    after the first size at which any tree has an accepted set.

    Why: the per-sample explanation is the smallest accepted set over all heads. Searching
    heads one after another (the reference) makes a head without small explanations test
    every larger size even when another head already explained the output with one
    token. Going size by size over all trees returns exactly the reference's sets of the
    minimal size (each tree's results at that size, in its own order); trees whose
    minimal size is larger report no sets. All trees' candidates of one size go to
    ``tester`` in one call as ``(tree index, set)`` pairs, so one batched pass serves
    every head.
    """
    if max_set_size is not None and max_set_size < 0:
        raise BadInputError(f"max_set_size must be >= 0 or None, got {max_set_size}")
    limits = [len(t.candidates) if max_set_size is None else min(max_set_size, len(t.candidates)) for t in trees]
    results: list[list[tuple[Subset, int]]] = [[] for _ in trees]
    calls = [0] * len(trees)
    active = [lim >= 1 for lim in limits]
    k = 1
    while any(active):
        batches = {}
        for h, tree in enumerate(trees):
            if not active[h]:
                continue
            batch = tree.legal_subsets(k)
            if not batch:  # no legal set of size k means none of any larger size
                active[h] = False
                continue
            batches[h] = batch
        if not batches:
            break
        joint = [(h, s) for h, batch in batches.items() for s, _ in batch]
        verdicts = list(tester(joint))
        if len(verdicts) != len(joint):
            raise BadInputError(f"tester returned {len(verdicts)} answers for {len(joint)} candidates")
        at = 0
        for h, batch in batches.items():
            ok = verdicts[at:at + len(batch)]
            at += len(batch)
            calls[h] += len(batch)
            results[h].extend(item for item, hit in zip(batch, ok) if hit)
        if any(results[h] for h in batches):
            break
        k += 1
        active = [a and k <= lim for a, lim in zip(active, limits)]
    return [SearchResult(results[h], calls[h], tree) for h, tree in enumerate(trees)]


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
