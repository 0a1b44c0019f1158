"""ICD's r >= 2 conditioning sets: legal subsets of a PDS tree restricted to allowed nodes.

Why not "enumerate all legal subsets, then filter": ICD drops every set with a member
that is i, j, or a possible ancestor of neither (FORMAT §7). After orientation most
nodes fail that test, so the full list (C(|F|, r) for a wide tree) is mostly thrown
away. A set whose members are all allowed is legal iff it is legal in the tree pruned
at the first disallowed label on every root path (a witness path's nodes are members,
hence allowed), so we enumerate legal subsets of the pruned tree directly. Distance
sums still use the minimal depth in the *full* tree, as the reference does.

Also here: what the pure (``icd``) and compiled (``icd_compiled``) paths share, the
result type, uniform CI-test access and the per-iteration candidate cache, so that
``icd`` may dispatch to ``icd_compiled`` without either importing the other's insides.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cleann.causal.orientation import possible_ancestors, possible_parent_matrix
from cleann.causal.pag import ARROW, PAG
from cleann.causal.pds_tree import PDSTree, build_pds_tree
from cleann.errors import BadInputError


def _occurrences(tree: PDSTree) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(node, depth, parent) per occurrence with every parent before its children."""
    accessor = getattr(tree, "occurrence_arrays", None)
    if accessor is not None:
        return accessor()
    if all(hasattr(tree, a) for a in ("_node", "_depth", "_parent")):  # BFS insertion order
        return tree._node, tree._depth, tree._parent
    rows = np.array(tree.rows, dtype=np.intp).reshape(-1, 3)  # pre-order
    return rows[:, 0], rows[:, 1], rows[:, 2]


def legal_subsets_within(tree: PDSTree, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Legal size-k subsets of ``tree`` whose members all satisfy ``allowed[node]``.

    Returns rows of ascending nodes (m, k) and dist sums (m,), ordered by (dist sum,
    lexicographic) -- the reference's order under the ascending contract.
    """
    empty = np.zeros((0, max(k, 0)), dtype=np.intp), np.zeros(0, dtype=np.int64)
    if k <= 0:
        return empty
    node, depth, parent = _occurrences(tree)
    if len(node) <= 1:
        return empty
    # prune: an occurrence survives iff its label is allowed and its parent survived;
    # depth by depth (parents are one level up), vectorised
    keep = np.zeros(len(node), dtype=bool)
    keep[0] = True
    ok = allowed[node]
    for d in range(1, int(depth.max()) + 1):
        at = np.flatnonzero(depth == d)
        keep[at] = ok[at] & keep[parent[at]]
    kept = np.flatnonzero(keep[1:]) + 1
    labels = np.unique(node[kept])
    if len(labels) < k:
        return empty
    lab = np.searchsorted(labels, node[kept])  # kept occurrence -> label column
    if k == 2:
        members = _pairs(lab, kept, parent, depth, len(labels))
    else:
        members = _grow_levels(lab, kept, parent, depth, len(labels), k)
    if len(members) == 0:
        return empty
    sets = np.broadcast_to(labels, members.shape)[members].reshape(len(members), k)  # ascending per row
    min_depth = tree.min_depth
    depth_of = np.array([min_depth[int(v)] for v in labels.tolist()], dtype=np.int64)
    dist = members.astype(np.int64) @ depth_of
    order = np.lexsort([sets[:, c] for c in range(k - 1, -1, -1)] + [dist])
    return sets[order], dist[order]


def first_unique_rows(rows: np.ndarray) -> np.ndarray:
    """Indices of the first occurrence of each distinct row, ascending (order kept)."""
    rows = np.ascontiguousarray(rows)
    if len(rows) <= 1:
        return np.arange(len(rows))
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    _, first = np.unique(keys, return_index=True)
    return np.sort(first)


def _pairs(lab: np.ndarray, kept: np.ndarray, parent: np.ndarray, depth: np.ndarray, n_labels: int) -> np.ndarray:
    """Legal sets of size 2 directly: two depth-1 labels, or a depth-1 label and a label
    hanging off one of its depth-1 occurrences (the only chains a pair can hold)."""
    kd = depth[kept]
    first = np.zeros(n_labels, dtype=bool)
    first[lab[kd == 1]] = True
    legal = first[:, None] & first[None, :]
    pos = np.full(len(parent), -1, dtype=np.intp)
    pos[kept] = np.arange(len(kept))
    at = np.flatnonzero(kd == 2)
    a, b = lab[pos[parent[kept[at]]]], lab[at]
    legal[a, b] = True
    legal[b, a] = True
    rows, cols = np.nonzero(np.triu(legal, 1))
    members = np.zeros((len(rows), n_labels), dtype=bool)
    members[np.arange(len(rows)), rows] = True
    members[np.arange(len(rows)), cols] = True
    return members


_CHUNK = 4096  # sets per vectorised growth step (bounds the sets x occurrences matrix)


def _grow_levels(
    lab: np.ndarray, kept: np.ndarray, parent: np.ndarray, depth: np.ndarray, n_labels: int, k: int
) -> np.ndarray:
    """Legal sets of size k as boolean rows over labels, unique, grown level by level.

    An occurrence t can be added to a legal set S iff every label on its chain (its
    ancestors, root excluded) is in S: ``chain[t] ⊆ S``, tested for all (S, t) at once
    as ``(~S) @ chain.T == 0``. Every legal set of size k+1 minus its member reached
    deepest is legal, so growth from size 0 reaches all of them.
    """
    n_occ = len(kept)
    pos = np.full(len(parent), -1, dtype=np.intp)
    pos[kept] = np.arange(n_occ)
    chain = np.zeros((n_occ, n_labels), dtype=bool)
    kd = depth[kept]
    for d in range(2, int(kd.max()) + 1):  # parents are one level up and already filled
        at = np.flatnonzero(kd == d)
        par = pos[parent[kept[at]]]
        chain[at] = chain[par]
        chain[at, lab[par]] = True
    chain_t = chain.T.astype(np.float32)
    onehot = np.zeros((n_occ, n_labels), dtype=np.float32)
    onehot[np.arange(n_occ), lab] = 1.0

    level = np.zeros((1, n_labels), dtype=bool)
    for _ in range(k):
        grown = []
        for start in range(0, len(level), _CHUNK):
            sets = level[start:start + _CHUNK]
            ready = ((~sets).astype(np.float32) @ chain_t) < 0.5  # (sets, occurrences)
            addable = ((ready.astype(np.float32) @ onehot) > 0.5) & ~sets
            rows, cols = np.nonzero(addable)
            new = sets[rows]
            new[np.arange(len(rows)), cols] = True
            grown.append(new)
        level = np.concatenate(grown) if grown else level[:0]
        if len(level) == 0:
            return level
        level = level[first_unique_rows(np.packbits(level, axis=1))]
    return level


def depth2_pairs(marks: np.ndarray, root: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``legal_subsets_within(build_pds_tree(pag, root, 2), 2, allowed)`` without the tree.

    Why: at r = 2 every deletion can change every tree, so trees would be rebuilt
    constantly; the depth-2 tree is simple enough to read off the marks. With N the
    root's neighbours: depth-1 occurrences are N; a depth-1 node a is expanded over
    its remaining skeleton edges, where an edge a-w with w in N, w < a was consumed by
    w's earlier expansion, and w passes the possible-collider test (root, a, w) iff
    root ~ w or both a-root and a-w carry an arrowhead at a. Hence the legal pairs are
    {a, b} ⊆ N, and {a, w} with w ∉ N, a ~ w, ``root *-> a <-* w`` -- each within
    ``allowed``. Minimal depth is 1 on N and 2 elsewhere.
    """
    first = np.flatnonzero((marks[root] != 0) & allowed)
    first = first[first != root]
    ii, jj = np.triu_indices(len(first), 1)
    both = np.stack([first[ii], first[jj]], axis=1)  # dist 1 + 1, already lexicographic
    second = allowed & (marks[root] == 0)
    second[root] = False
    into = (marks[first, root] == ARROW)[:, None] & (marks[first] == ARROW) & second[None, :]
    a, w = np.nonzero(into)
    a = first[a]
    mixed = np.stack([np.minimum(a, w), np.maximum(a, w)], axis=1)  # dist 1 + 2
    mixed = mixed[np.lexsort([mixed[:, 1], mixed[:, 0]])]
    sets = np.concatenate([both, mixed]).astype(np.intp)
    dist = np.concatenate([np.full(len(both), 2), np.full(len(mixed), 3)]).astype(np.int64)
    return sets, dist


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


class CITests:
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


class Candidates:
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
