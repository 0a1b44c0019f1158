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
from itertools import combinations
from typing import Any

import numpy as np

from cleann.causal.icd_candidates import Candidates, CITests, ICDResult, Sepsets
from cleann.causal.orientation import orient_fixpoint, orient_v_structures
from cleann.causal.pag import PAG
from cleann.errors import BadInputError


def _compilable(ci_test: Any) -> bool:
    """A fresh FisherZTest (nothing cached: the pure r = 0 counts only cache misses)."""
    from cleann.causal.citest import FisherZTest

    return type(ci_test) is FisherZTest and not ci_test._cache


def _reset_and_orient(pag: PAG, nodes: np.ndarray, sepsets: Sepsets, batches: Iterable[tuple[int, ...]]) -> None:
    pag.reset_marks()
    orient_v_structures(pag.marks, nodes, sepsets)
    for rules in batches:
        orient_fixpoint(pag.marks, nodes, sepsets, rules)


def _r1_pairs(pag: PAG, adj: np.ndarray, i: int, partners: np.ndarray, cit: CITests, sepsets: Sepsets) -> bool:
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
             cit: CITests, sepsets: Sepsets) -> bool:
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


def _iteration_r1(pag: PAG, nodes_arr: np.ndarray, cit: CITests, sepsets: Sepsets) -> bool:
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


def warm_up_compiled(n_nodes: int = 16, seed: int = 0) -> ICDResult:
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
    cit = CITests(ci_test)
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
            cands = Candidates(pag, r)
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
