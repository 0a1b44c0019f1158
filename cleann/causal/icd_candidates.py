"""ICD's r >= 2 conditioning sets: legal subsets of a PDS tree restricted to allowed nodes.

Why not "enumerate all legal subsets, then filter": ICD drops every set with a member
that is i, j, or a possible ancestor of neither (FORMAT §7). After orientation most
nodes fail that test, so the full list (C(|F|, r) for a wide tree) is mostly thrown
away. A set whose members are all allowed is legal iff it is legal in the tree pruned
at the first disallowed label on every root path (a witness path's nodes are members,
hence allowed), so we enumerate legal subsets of the pruned tree directly. Distance
sums still use the minimal depth in the *full* tree, as the reference does.
"""
from __future__ import annotations

import numpy as np

from cleann.causal.pag import ARROW
from cleann.causal.pds_tree import PDSTree


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
