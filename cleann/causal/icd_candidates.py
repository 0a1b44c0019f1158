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
    bit_of = {int(v): b for b, v in enumerate(labels.tolist())}
    children: dict[int, list[int]] = {}
    occ_bit: dict[int, int] = {}
    for t, v, par in zip(kept.tolist(), node[kept].tolist(), parent[kept].tolist()):
        children.setdefault(par, []).append(t)
        occ_bit[t] = 1 << bit_of[v]

    level = {0}
    for _ in range(k):
        nxt: set[int] = set()
        for members in level:
            addable = 0
            stack = list(children.get(0, ()))
            while stack:
                occ = stack.pop()
                bit = occ_bit[occ]
                if members & bit:
                    stack.extend(children.get(occ, ()))
                else:
                    addable |= bit
            while addable:
                low = addable & -addable
                nxt.add(members | low)
                addable ^= low
        level = nxt
        if not level:
            return empty

    masks = np.array(list(level), dtype=object)
    member = np.array([[(m >> b) & 1 for b in range(len(labels))] for m in masks.tolist()], dtype=bool)
    sets = np.broadcast_to(labels, member.shape)[member].reshape(len(member), k)  # ascending per row
    min_depth = tree.min_depth
    depth_of = np.array([min_depth[int(v)] for v in labels.tolist()], dtype=np.int64)
    dist = member.astype(np.int64) @ depth_of
    order = np.lexsort([sets[:, c] for c in range(k - 1, -1, -1)] + [dist])
    return sets[order], dist[order]
