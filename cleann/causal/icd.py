"""ICD structure learning (Rohekar et al., 2021) with the reference's exact semantics.

FORMAT §7 with the ascending-iteration contract of §9: pairs (i < j) lexicographically,
immediate deletion, r = 1 candidates adj(i)\\{j} then the unseen adj(j)\\{i} (ascending),
r >= 2 candidates the legal size-r subsets of the depth-r PDS trees of i then j (sets
with i or j, or with a member that is a possible ancestor of neither, dropped; stably
sorted by dist sum), and the orientation schedule R0 / R1-R4 / R5-R7 / R8-R10.

Why it is fast: r = 0 is one vectorised batch; at r = 1 the decisions (i, j | z) for
all j, z come from one closed-form slab per i; at r >= 2 each pair's candidate sets are
enumerated only among allowed nodes (icd_candidates) and tested in vectorised chunks
with early exit. PDS trees (r >= 3) and the possible-ancestor closure are cached and
rebuilt only when a deletion can change them (a tree when the deleted edge touches one
of its nodes, the closure when the edge was a possibly-directed arc). A (pair, set) is
never tested twice within ICD (sizes differ between iterations and candidate lists are
de-duplicated), so no result cache is needed on the hot path. Any other ``ci_test``
gets the same semantics one ``independent`` call at a time.

That is the *pure* path. By default a fresh ``FisherZTest`` runs the same schedule through
numba kernels (``icd_compiled`` / ``_kernels``: ~20x fewer seconds per real head, same
PAG, sepsets and test counts; ``CLEANN_ICD_PURE=1`` or ``compiled=False`` selects the
pure path, which the equivalence tests compare against).
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from cleann.causal.orientation import (
    orient_fixpoint,
    orient_v_structures,
    possible_ancestors,
    possible_parent_matrix,
)
from cleann.causal.icd_candidates import depth2_pairs, first_unique_rows, legal_subsets_within
from cleann.causal.pag import PAG
from cleann.causal.pds_tree import PDSTree, build_pds_tree
from cleann.errors import BadInputError

Sepsets = dict[tuple[int, int], tuple[int, ...]]


@dataclass
class ICDResult:
    """The learned PAG, the separating set of every deleted pair ``(i < j)``, the number
    of CI statistics a one-at-a-time scan computes (the reference's ``ci_tests``; the
    vectorised paths may evaluate more, see ``FisherZTest.n_computed``) in total and
    per conditioning size, and how many ICD iterations (r = 0, 1, ...) ran."""

    pag: PAG
    sepsets: Sepsets
    ci_tests: int
    iterations: int
    ci_tests_by_size: list[int] = field(default_factory=list)


class _CITests:
    """Uniform access to any ``ci_test``: the fast paths of ``FisherZTest`` when present,
    otherwise one ``independent(x, y, cond)`` call per candidate (counted here)."""

    def __init__(self, ci_test: Any):
        if not hasattr(ci_test, "independent"):
            raise BadInputError("ci_test must have a method independent(x, y, cond) -> bool")
        self.ci = ci_test
        self.fast = hasattr(ci_test, "first_independent_rows") and hasattr(ci_test, "independent_many")
        self.calls = 0
        self.by_size: list[int] = []
        self._start = (int(getattr(ci_test, "n_tests", 0)), list(getattr(ci_test, "n_tests_by_size", [])))

    def _count(self, k: int, n: int) -> None:
        self.calls += n
        while len(self.by_size) <= k:
            self.by_size.append(0)
        self.by_size[k] += n

    def marginal(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        if self.fast:
            return self.ci.independent_many(xs, ys, np.zeros((len(xs), 0), dtype=np.intp))
        self._count(0, len(xs))
        return np.array([bool(self.ci.independent(int(x), int(y), ())) for x, y in zip(xs, ys)], dtype=bool)

    def single_slab(self, x: int, ys: np.ndarray) -> np.ndarray | None:
        """Decisions of (x, y | z) for all y in ``ys`` and all z at once (FisherZTest),
        or None for a generic test. Cheap closed forms: computing the whole slab costs
        less than the per-pair calls it replaces."""
        slab = getattr(self.ci, "pvalues_single_slab", None)
        if not self.fast or slab is None:
            return None
        return slab(x, ys) > self.ci.alpha

    def first(self, x: int, y: int, zz: np.ndarray) -> int:
        if self.fast:
            return self.ci.first_independent_rows(x, y, zz)
        for n, row in enumerate(zz.tolist()):
            self._count(len(row), 1)
            if self.ci.independent(x, y, tuple(row)):
                return n
        return -1

    def totals(self) -> tuple[int, list[int]]:
        if self.fast:  # this run's share of the test's counters
            total, by_size = self._start
            now = list(self.ci.n_tests_by_size)
            delta = [n - (by_size[k] if k < len(by_size) else 0) for k, n in enumerate(now)]
            while delta and delta[-1] == 0:
                delta.pop()
            return int(self.ci.n_tests) - total, delta
        return self.calls, self.by_size


class _Candidates:
    """Per-root PDS trees for one iteration plus the possible-ancestor closure, each
    invalidated selectively on edge deletion."""

    def __init__(self, pag: PAG, r: int):
        self.pag = pag
        self.r = r
        self._trees: dict[int, tuple[PDSTree, np.ndarray]] = {}
        self._anc: np.ndarray | None = None
        self.pp = possible_parent_matrix(pag.marks)

    def tree(self, root: int) -> PDSTree:
        hit = self._trees.get(root)
        if hit is None:
            tree = build_pds_tree(self.pag, root, self.r)
            members = np.zeros(self.pag.size, dtype=bool)
            members[root] = True
            members[list(tree.candidates)] = True
            hit = (tree, members)
            self._trees[root] = hit
        return hit[0]

    def ancestors(self) -> np.ndarray:
        if self._anc is None:
            self._anc = possible_ancestors(self.pag.marks)
        return self._anc

    def deleted(self, u: int, v: int) -> None:
        """Forget what the deletion of u-v can change: trees that contain u or v (no
        other tree ever looked at that edge) and, if it was a possibly-directed arc,
        the ancestor closure."""
        for root in [t for t, hit in self._trees.items() if hit[1][u] or hit[1][v]]:
            del self._trees[root]
        if self.pp[u, v] or self.pp[v, u]:
            self._anc = None
        self.pp[u, v] = self.pp[v, u] = False

    def _subsets(self, root: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        marks = self.pag.marks
        if not (allowed & (marks[root] != 0)).any():  # a legal set needs an allowed depth-1 member
            return np.zeros((0, self.r), dtype=np.intp), np.zeros(0, dtype=np.int64)
        if self.r == 2:  # read off the marks: no tree to rebuild after every deletion
            return depth2_pairs(marks, root, allowed)
        return legal_subsets_within(self.tree(root), self.r, allowed)

    def for_pair(self, i: int, j: int) -> np.ndarray:
        """Candidate conditioning sets for the pair, in test order, de-duplicated."""
        anc = self.ancestors()
        allowed = anc[:, i] | anc[:, j]
        allowed[[i, j]] = False
        if np.count_nonzero(allowed) < self.r:
            return np.zeros((0, self.r), dtype=np.intp)
        si, di = self._subsets(i, allowed)
        sj, dj = self._subsets(j, allowed)
        if len(sj) == 0 or len(si) == 0:
            return si if len(sj) == 0 else sj
        sets = np.concatenate([si, sj])
        order = np.argsort(np.concatenate([di, dj]), kind="stable")
        sets = sets[order]
        first = first_unique_rows(sets)
        return sets[first] if len(first) < len(sets) else sets


def _compilable(ci_test: Any) -> bool:
    """A fresh FisherZTest (nothing cached: the pure r = 0 counts only cache misses)."""
    from cleann.causal.citest import FisherZTest

    return type(ci_test) is FisherZTest and not ci_test._cache


def _reset_and_orient(pag: PAG, nodes: np.ndarray, sepsets: Sepsets, batches: Iterable[tuple[int, ...]]) -> None:
    pag.reset_marks()
    orient_v_structures(pag.marks, nodes, sepsets)
    for rules in batches:
        orient_fixpoint(pag.marks, nodes, sepsets, rules)


def _r1_pairs(pag: PAG, adj: np.ndarray, i: int, partners: np.ndarray, cit: _CITests, sepsets: Sepsets) -> bool:
    """r = 1 for the pairs (i, j), j in ``partners``, one CI call at a time (generic test).
    Candidates: adj(i) minus j, then adj(j) minus adj(i) and i, each ascending."""
    any_candidate = False
    for j in partners.tolist():
        ni = adj[i].copy()
        ni[j] = False
        nj = adj[j] & ~adj[i]
        nj[i] = False
        cand = np.concatenate([np.flatnonzero(ni), np.flatnonzero(nj)])
        if cand.size == 0:
            continue
        any_candidate = True
        hit = cit.first(i, j, cand[:, None])
        if hit >= 0:
            pag.remove_edge(i, j)
            adj[i, j] = adj[j, i] = False
            sepsets[(i, j)] = (int(cand[hit]),)
    return any_candidate


def _r1_slab(pag: PAG, adj: np.ndarray, i: int, partners: np.ndarray, indep: np.ndarray,
             cit: _CITests, sepsets: Sepsets) -> bool:
    """``_r1_pairs`` with all decisions precomputed (``indep[row, z]``).

    Why plain Python lists: most pairs are deleted at r = 1 (on MiniLM snippets ~530 of
    ~620 pairs per head), usually at an early candidate, so walking the candidate list
    until the first independence beats building the whole candidate array per pair with
    numpy calls. Same deletions, sepsets and test counts as one by one.
    """
    rows = indep[:, : adj.shape[0]].tolist()
    nb_i = np.flatnonzero(adj[i]).tolist()
    any_candidate = False
    for row, j in enumerate(partners.tolist()):
        ind = rows[row]
        tested, hit = 0, -1
        for z in nb_i:
            if z != j:
                tested += 1
                if ind[z]:
                    hit = z
                    break
        if hit < 0:
            in_i = set(nb_i)
            for z in np.flatnonzero(adj[j]).tolist():
                if z != i and z not in in_i:
                    tested += 1
                    if ind[z]:
                        hit = z
                        break
        if tested == 0:
            continue
        any_candidate = True
        cit.ci.count_tests(1, tested)
        if hit >= 0:
            pag.remove_edge(i, j)
            adj[i, j] = adj[j, i] = False
            sepsets[(i, j)] = (hit,)
            nb_i.remove(j)
    return any_candidate


def _iteration_r1(pag: PAG, nodes_arr: np.ndarray, cit: _CITests, sepsets: Sepsets) -> bool:
    """ICD's r = 1: pairs (i < j) ascending, conditioning on single neighbours; deletions
    take effect at once. Returns whether any pair had a candidate."""
    adj = pag.marks != 0
    any_candidate = False
    for i in nodes_arr.tolist():
        partners = nodes_arr[nodes_arr > i]
        partners = partners[adj[i, partners]]
        if partners.size == 0:
            continue
        slab = cit.single_slab(i, partners)  # decisions (y, z) or None
        if slab is None:
            any_candidate |= _r1_pairs(pag, adj, i, partners, cit, sepsets)
        else:
            any_candidate |= _r1_slab(pag, adj, i, partners, slab, cit, sepsets)
    return any_candidate


def compiled_default() -> bool:
    """Whether ``learn_icd`` uses the compiled kernels by default: yes unless the
    environment sets ``CLEANN_ICD_PURE=1`` (the pure path stays for equivalence tests)."""
    return os.environ.get("CLEANN_ICD_PURE", "").strip() not in ("1", "true", "yes")


def warm_up_compiled(n_nodes: int = 16, seed: int = 0) -> "ICDResult":
    """Compile (or load from numba's cache) the ICD kernels now.

    Why: the first use in a fresh environment compiles them, which takes minutes of one
    core; a first run calls this beside a long job (the default models' training) so
    the first explanation does not wait. Learns one PAG on seeded chain-like data with
    conditioning sets of several sizes, which reaches the kernels a real head uses.
    """
    return learn_icd(range(n_nodes), warm_up_test(n_nodes, seed), compiled=True)


def warm_up_test(n_nodes: int = 16, seed: int = 0):
    """The seeded Fisher-z test of the warm-up: chain-like data, 400 samples, alpha 0.01."""
    from cleann.causal.citest import FisherZTest

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((400, n_nodes))
    for j in range(1, n_nodes):
        x[:, j] += 0.8 * x[:, j - 1] + 0.5 * x[:, max(0, j - 3)]
    return FisherZTest(np.corrcoef(x.T), 400, 0.01)


def learn_icd(nodes: Iterable[int], ci_test: Any, max_cond_size: int | None = None,
              compiled: bool | None = None) -> ICDResult:
    """Learn a PAG over ``nodes`` with ICD.

    ``ci_test`` is any object with ``independent(x, y, cond) -> bool`` (a
    ``FisherZTest`` uses its vectorised paths). ``max_cond_size`` caps r: after the
    iteration r = cap the search stops as if no pair had a candidate (R5-R7 then R8-R10
    without a reset). None (default) means no cap, the reference's behaviour.
    ``compiled`` (default :func:`compiled_default`) runs the numba kernels of
    ``_kernels`` for a fresh ``FisherZTest``: same PAG, sepsets and test counts as the
    pure path (``n_computed`` then equals ``n_tests``); any other test runs pure.
    """
    nodes_arr = np.array(sorted({int(n) for n in nodes}), dtype=np.intp)
    if max_cond_size is not None and max_cond_size < 0:
        raise BadInputError(f"max_cond_size must be >= 0 or None, got {max_cond_size}")
    if (compiled_default() if compiled is None else compiled) and _compilable(ci_test):
        from cleann.causal.icd_compiled import learn_icd_compiled

        return learn_icd_compiled(nodes_arr, ci_test, max_cond_size)
    pag = PAG(nodes_arr.tolist())
    marks = pag.marks
    cit = _CITests(ci_test)
    sepsets: Sepsets = {}

    # r = 0: every pair, unconditionally (deletions cannot affect other pairs' tests)
    if len(nodes_arr) >= 2:
        ii, jj = np.array(list(combinations(nodes_arr.tolist(), 2)), dtype=np.intp).T
        indep = cit.marginal(ii, jj)
        for i, j in zip(ii[indep].tolist(), jj[indep].tolist()):
            pag.remove_edge(i, j)
            sepsets[(i, j)] = ()
    orient_v_structures(marks, nodes_arr, sepsets)
    orient_fixpoint(marks, nodes_arr, sepsets, (1, 2, 3, 4))
    iterations = 1

    done = max_cond_size == 0
    r = 1
    while not done:
        any_candidate = False
        if r == 1:
            any_candidate = _iteration_r1(pag, nodes_arr, cit, sepsets)
            _reset_and_orient(pag, nodes_arr, sepsets, [(1, 2, 3, 4), (5, 6, 7), (8, 9, 10)])
            iterations += 1
            done = not any_candidate
        else:
            cands = _Candidates(pag, r)
            for i, j in combinations(nodes_arr.tolist(), 2):
                if not marks[i, j]:
                    continue
                sets = cands.for_pair(i, j)
                if len(sets) == 0:
                    continue
                any_candidate = True
                hit = cit.first(i, j, sets)
                if hit >= 0:
                    pag.remove_edge(i, j)
                    sepsets[(i, j)] = tuple(int(z) for z in sets[hit])
                    cands.deleted(i, j)
            iterations += 1
            if any_candidate:
                _reset_and_orient(pag, nodes_arr, sepsets, [(1, 2, 3, 4)])
            else:
                done = True
                for rules in [(5, 6, 7), (8, 9, 10)]:
                    orient_fixpoint(marks, nodes_arr, sepsets, rules)
                break
        if not done and max_cond_size is not None and r >= max_cond_size:
            for rules in [(5, 6, 7), (8, 9, 10)]:
                orient_fixpoint(marks, nodes_arr, sepsets, rules)
            done = True
        r += 1

    n_tests, by_size = cit.totals()
    return ICDResult(pag=pag, sepsets=sepsets, ci_tests=n_tests, iterations=iterations, ci_tests_by_size=by_size)
