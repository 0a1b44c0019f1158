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


def legal_subsets_within(tree: PDSTree, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Legal size-k subsets of ``tree`` whose members all satisfy ``allowed[node]``.

    Returns rows of ascending nodes (m, k) and dist sums (m,), ordered by (dist sum,
    lexicographic) -- the reference's order under the ascending contract.
    """
    empty = np.zeros((0, k), dtype=np.intp), np.zeros(0, dtype=np.int64)
    rows = tree.rows
    n_occ = len(rows)
    if k <= 0 or n_occ <= 1:
        return empty
    keep = [False] * n_occ
    keep[0] = True
    children: list[list[int]] = [[] for _ in range(n_occ)]
    bit_of: dict[int, int] = {}
    occ_bit = [0] * n_occ
    for t in range(1, n_occ):  # pre-order: a parent precedes its children
        node, _, par = rows[t]
        if keep[par] and allowed[node]:
            keep[t] = True
            children[par].append(t)
            if node not in bit_of:
                bit_of[node] = len(bit_of)
            occ_bit[t] = 1 << bit_of[node]
    if len(bit_of) < k:
        return empty

    level = {0}
    for _ in range(k):
        nxt: set[int] = set()
        for members in level:
            addable = 0
            stack = list(children[0])
            while stack:
                occ = stack.pop()
                bit = occ_bit[occ]
                if members & bit:
                    stack.extend(children[occ])
                else:
                    addable |= bit
            while addable:
                low = addable & -addable
                nxt.add(members | low)
                addable ^= low
        level = nxt
        if not level:
            return empty

    nodes = np.array(sorted(bit_of, key=bit_of.__getitem__), dtype=np.intp)  # bit position -> node
    masks = list(level)
    member = np.array([[(m >> b) & 1 for b in range(len(nodes))] for m in masks], dtype=bool)
    sets = np.sort(np.broadcast_to(nodes, member.shape)[member].reshape(len(masks), k), axis=1)
    depth = np.array([tree.min_depth[int(v)] for v in nodes.tolist()], dtype=np.int64)
    dist = member.astype(np.int64) @ depth
    order = np.lexsort([sets[:, c] for c in range(k - 1, -1, -1)] + [dist])
    return sets[order], dist[order]
