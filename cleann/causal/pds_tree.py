"""PDS tree of a PAG and its legal subsets (golden FORMAT §8.1-8.2).

Why a tree and not a set: both ICD (r >= 2 conditioning sets) and the explanation search
only consider node sets that are *reachable* from the root along possible-collider
paths, and rank them by their distance from the root. The tree records every
occurrence of a node (a node can be reached through several skeleton edges), so
"legal" and "minimal depth" are read off it directly.

Semantics follow the reference exactly: a FIFO of (previous, current) pairs over an
undirected skeleton copy S from which the root's edges are removed; each S edge is
consumed when first traversed; the possible-collider check reads the PAG, not S; the
depth-1 children are added before any depth check, so a depth limit of 0 acts as 1.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from cleann.causal.pag import ARROW, PAG

Subset = tuple[int, ...]


@dataclass
class PDSTree:
    """Occurrences of nodes reached from ``root``; ``rows`` are pre-order
    ``[node, depth, parent_row]`` with children in insertion order (row 0 is the root)."""

    root: int
    rows: list[list[int]]
    # internal: per occurrence (insertion order) its node, depth, parent occurrence, children
    _node: list[int] = field(repr=False)
    _depth: list[int] = field(repr=False)
    _children: list[list[int]] = field(repr=False)
    min_depth: dict[int, int] = field(init=False)
    candidates: tuple[int, ...] = field(init=False)
    _levels: list[list[int]] = field(init=False, repr=False)  # legal bitmask sets per size

    def __post_init__(self) -> None:
        self.min_depth = {}
        for node, depth in zip(self._node[1:], self._depth[1:]):
            if depth < self.min_depth.get(node, depth + 1):
                self.min_depth[node] = depth
        self.candidates = tuple(sorted(self.min_depth))
        self._levels = [[0]]  # size 0: the empty set (bitmask over candidate positions)
        self._pos = {node: k for k, node in enumerate(self.candidates)}
        self._occ_bit = [1 << self._pos[n] if i else 0 for i, n in enumerate(self._node)]

    @property
    def max_depth_count(self) -> int:
        """Nodes on the longest root-to-leaf path, counting the root (reference's figure)."""
        return max(self._depth) + 1

    # --- legal subsets -----------------------------------------------------------------
    def _grow(self, members: int) -> int:
        """Bitmask of candidate positions that can be added to the legal set ``members``.

        A node can be added iff one of its occurrences hangs off the root or off an
        occurrence whose whole ancestor chain lies in ``members``.
        """
        addable = 0
        stack = list(self._children[0])
        while stack:
            occ = stack.pop()
            bit = self._occ_bit[occ]
            if members & bit:
                stack.extend(self._children[occ])
            else:
                addable |= bit
        return addable

    def _level(self, k: int) -> list[int]:
        """All legal sets of size k as bitmasks (built from size k-1: every legal set of
        size k+1 minus its deepest-reached member is legal, so growth reaches them all)."""
        while len(self._levels) <= k:
            prev = self._levels[-1]
            nxt: set[int] = set()
            for members in prev:
                addable = self._grow(members)
                while addable:
                    low = addable & -addable
                    nxt.add(members | low)
                    addable ^= low
            self._levels.append(list(nxt))
            if not nxt:  # no legal set of this size means none larger either
                break
        return self._levels[k] if k < len(self._levels) else []

    def legal_subsets(self, k: int, exclude: Iterable[int] = ()) -> list[tuple[Subset, int]]:
        """Legal subsets of size k with their dist sums, in the reference order under the
        ascending contract: by (dist_sum, lexicographic tuple). Sets meeting ``exclude``
        are dropped."""
        if k <= 0:
            return []
        excl = 0
        for node in exclude:
            if node in self._pos:
                excl |= 1 << self._pos[node]
        cands = self.candidates
        depth = [self.min_depth[n] for n in cands]
        out = []
        for members in self._level(k):
            if members & excl:
                continue
            idx = [i for i in range(len(cands)) if members >> i & 1]
            out.append((tuple(cands[i] for i in idx), sum(depth[i] for i in idx)))
        out.sort(key=lambda item: (item[1], item[0]))
        return out

    def is_legal(self, subset: Iterable[int]) -> bool:
        """Whether ``subset`` (of candidates) contains a root path to each member."""
        members = 0
        for node in subset:
            if node not in self._pos:
                return False
            members |= 1 << self._pos[node]
        reached = 0
        stack = list(self._children[0])
        while stack:
            occ = stack.pop()
            bit = self._occ_bit[occ]
            if members & bit:
                reached |= bit
                stack.extend(self._children[occ])
        return reached == members


def build_pds_tree(pag: PAG, root: int, max_depth: int) -> PDSTree:
    """The PDS tree of ``pag`` rooted at ``root`` with depth limit ``max_depth``."""
    marks = pag.marks
    adj = marks != 0
    skel = adj.copy()
    skel[root, :] = False
    skel[:, root] = False

    node, depth, parent, children = [root], [0], [-1], [[]]
    queue: deque[tuple[int, int, int]] = deque()  # (previous node, current node, occurrence)

    def add(occ_parent: int, w: int) -> int:
        node.append(w)
        depth.append(depth[occ_parent] + 1)
        parent.append(occ_parent)
        children.append([])
        children[occ_parent].append(len(node) - 1)
        return len(node) - 1

    for n in np.flatnonzero(adj[root]):
        queue.append((root, int(n), add(0, int(n))))

    while queue:
        u, v, occ = queue.popleft()
        if depth[occ] >= max_depth:
            continue
        ws = np.flatnonzero(skel[v])
        if ws.size == 0 or not adj[u, v]:
            continue
        arrow_uv = marks[v, u] == ARROW
        ok = (ws != u) & (adj[u, ws] | (arrow_uv & (marks[v, ws] == ARROW)))
        for w in ws[ok]:
            w = int(w)
            skel[v, w] = skel[w, v] = False
            queue.append((v, w, add(occ, w)))

    rows: list[list[int]] = []
    row_of: dict[int, int] = {}
    stack = [0]
    while stack:
        occ = stack.pop()
        row_of[occ] = len(rows)
        rows.append([node[occ], depth[occ], row_of[parent[occ]] if parent[occ] >= 0 else -1])
        stack.extend(reversed(children[occ]))
    return PDSTree(root=root, rows=rows, _node=node, _depth=depth, _children=children)
