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
    # internal, per occurrence in insertion (BFS) order: node, depth, parent occurrence, children
    _node: list[int] = field(repr=False)
    _depth: list[int] = field(repr=False)
    _parent: list[int] = field(repr=False)
    _children: list[list[int]] = field(repr=False)
    min_depth: dict[int, int] = field(init=False)
    candidates: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.min_depth = {}
        for node, depth in zip(self._node[1:], self._depth[1:]):
            if depth < self.min_depth.get(node, depth + 1):
                self.min_depth[node] = depth
        self.candidates = tuple(sorted(self.min_depth))
        self._pos = {node: k for k, node in enumerate(self.candidates)}
        self._cand = np.array(self.candidates, dtype=np.intp)
        self._cand_depth = np.array([self.min_depth[n] for n in self.candidates], dtype=np.int64)
        self._words = max(1, (len(self.candidates) + 63) // 64)
        # level k: legal sets of size k as packed bit rows (m, words) over candidate positions
        self._levels: list[np.ndarray] = [np.zeros((1, self._words), dtype="<u8")]

    @property
    def max_depth_count(self) -> int:
        """Nodes on the longest root-to-leaf path, counting the root (reference's figure)."""
        return max(self._depth) + 1

    # --- legal subsets -----------------------------------------------------------------
    def _members(self, words: np.ndarray) -> np.ndarray:
        """Packed rows -> boolean membership (m, |F|)."""
        bits = np.unpackbits(words.view(np.uint8).reshape(len(words), -1), axis=1, bitorder="little")
        return bits[:, : len(self.candidates)].astype(bool)

    def _grow(self, words: np.ndarray) -> np.ndarray:
        """All legal sets one larger than the legal sets ``words``, packed and unique.

        A node can be added to a legal set S iff one of its occurrences hangs off the root
        or off an occurrence whose whole ancestor chain lies in S. Every legal set of size
        k+1 minus its member reached deepest is legal, so growth reaches all of them.
        """
        member = self._members(words)
        lab = np.array([self._pos[n] for n in self._node[1:]], dtype=np.intp)  # occurrence -> position
        par = np.array(self._parent[1:], dtype=np.intp)  # parent occurrence (0 = root)
        depth = np.array(self._depth[1:])
        reached = np.zeros((len(words), len(self._node)), dtype=bool)
        reached[:, 0] = True
        for d in range(1, depth.max() + 1):  # parents are settled one depth earlier
            occ = np.flatnonzero(depth == d)
            reached[:, occ + 1] = member[:, lab[occ]] & reached[:, par[occ]]
        frontier = reached[:, par] & ~member[:, lab]
        addable = np.zeros_like(member)
        rank = self._occurrence_rank(lab)
        for r in range(rank.max() + 1):  # labels are unique within one rank: plain OR-assign
            occ = np.flatnonzero(rank == r)
            addable[:, lab[occ]] |= frontier[:, occ]
        rows, cols = np.nonzero(addable)
        grown = words[rows]
        grown[np.arange(len(rows)), cols // 64] |= np.left_shift(np.uint64(1), (cols % 64).astype(np.uint64))
        if self._words == 1:
            return np.unique(grown[:, 0])[:, None]
        return np.unique(grown, axis=0)

    @staticmethod
    def _occurrence_rank(lab: np.ndarray) -> np.ndarray:
        """For each occurrence, how many earlier occurrences share its label."""
        order = np.argsort(lab, kind="stable")
        sorted_lab = lab[order]
        first = np.searchsorted(sorted_lab, sorted_lab, side="left")
        rank = np.empty_like(lab)
        rank[order] = np.arange(len(lab)) - first
        return rank

    def _level(self, k: int) -> np.ndarray:
        while len(self._levels) <= k:
            prev = self._levels[-1]
            if len(prev) == 0 or len(self._levels) > len(self.candidates):
                self._levels.append(prev[:0])  # no legal set of this size, so none larger either
            else:
                self._levels.append(self._grow(prev))
        return self._levels[k]

    def legal_subset_arrays(self, k: int, exclude: Iterable[int] = ()) -> tuple[np.ndarray, np.ndarray]:
        """Legal subsets of size k as rows of ascending nodes (m, k) and their dist sums (m,),
        in the reference order under the ascending contract: (dist_sum, lexicographic).
        Sets meeting ``exclude`` are dropped."""
        if k <= 0 or k > len(self.candidates):
            return np.zeros((0, max(k, 0)), dtype=np.intp), np.zeros(0, dtype=np.int64)
        member = self._members(self._level(k))
        drop = [self._pos[n] for n in exclude if n in self._pos]
        if drop:
            member = member[~member[:, drop].any(axis=1)]
        pos = np.nonzero(member)[1].reshape(len(member), k)  # row-major: ascending per row
        dist = self._cand_depth[pos].sum(axis=1)
        order = np.lexsort(tuple(pos[:, c] for c in range(k - 1, -1, -1)) + (dist,))
        return self._cand[pos[order]], dist[order]

    def legal_subsets(self, k: int, exclude: Iterable[int] = ()) -> list[tuple[Subset, int]]:
        """``legal_subset_arrays`` as a list of ``(set, dist_sum)``."""
        sets, dist = self.legal_subset_arrays(k, exclude)
        return list(zip(map(tuple, sets.tolist()), dist.tolist()))

    def is_legal(self, subset: Iterable[int]) -> bool:
        """Whether ``subset`` (of candidates) contains a root path to each member."""
        members = set(subset)
        if not members <= set(self._pos):
            return False
        reached: set[int] = set()
        stack = list(self._children[0])
        while stack:
            occ = stack.pop()
            if self._node[occ] in members:
                reached.add(self._node[occ])
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
    return PDSTree(root=root, rows=rows, _node=node, _depth=depth, _parent=parent, _children=children)
