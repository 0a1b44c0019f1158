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

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from cleann.causal.pag import ARROW, PAG

Subset = tuple[int, ...]


@dataclass
class PDSTree:
    """Occurrences of nodes reached from ``root``, in insertion (BFS) order; occurrence 0
    is the root. Each occurrence's children are contiguous (added by one queue pop)."""

    root: int
    _node: np.ndarray = field(repr=False)  # occurrence -> node
    _depth: np.ndarray = field(repr=False)
    _parent: np.ndarray = field(repr=False)  # parent occurrence, -1 for the root
    _child_start: np.ndarray = field(repr=False)
    _child_count: np.ndarray = field(repr=False)
    min_depth: dict[int, int] = field(init=False)
    candidates: tuple[int, ...] = field(init=False)

    _CHUNK_CELLS = 16_000_000  # rows x occurrences per growth chunk

    def __post_init__(self) -> None:
        # BFS insertion order never decreases in depth: a node's first occurrence is its shallowest
        cand, first = np.unique(self._node[1:], return_index=True)
        self._cand = cand.astype(np.intp)
        self._cand_depth = self._depth[1:][first].astype(np.int64)
        self.candidates = tuple(cand.tolist())
        self.min_depth = dict(zip(self.candidates, self._cand_depth.tolist()))
        self._pos = dict(zip(self.candidates, range(len(self.candidates))))
        self._words = max(1, (len(self.candidates) + 63) // 64)
        # level k: legal sets of size k as packed bit rows (m, words), ascending, unique
        self._levels: list[np.ndarray] = [np.zeros((1, self._words), dtype=np.uint64)]
        self._rows: list[list[int]] | None = None

    def occurrence_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(node, depth, parent)`` per occurrence in BFS insertion order (np.intp; entry 0
        is the root with parent -1; a parent always precedes its children). Read-only views."""
        views = []
        for arr in (self._node, self._depth, self._parent):
            view = arr.view()
            view.flags.writeable = False
            views.append(view)
        return views[0], views[1], views[2]

    def children(self, occ: int) -> range:
        return range(int(self._child_start[occ]), int(self._child_start[occ] + self._child_count[occ]))

    @property
    def rows(self) -> list[list[int]]:
        """Pre-order ``[node, depth, parent_row]``, children in insertion order; row 0 is the root."""
        if self._rows is None:
            rows: list[list[int]] = []
            row_of = {-1: -1}
            stack = [0]
            while stack:
                occ = stack.pop()
                row_of[occ] = len(rows)
                rows.append([int(self._node[occ]), int(self._depth[occ]), row_of[int(self._parent[occ])]])
                stack.extend(reversed(self.children(occ)))
            self._rows = rows
        return self._rows

    @property
    def max_depth_count(self) -> int:
        """Nodes on the longest root-to-leaf path, counting the root (reference's figure)."""
        return int(self._depth.max()) + 1

    # --- legal subsets -----------------------------------------------------------------
    # Sets are packed rows of uint64 words; candidate position p is bit 63 - p % 64 of word
    # p // 64 (most significant first), so ascending numeric order of the rows is
    # *descending* lexicographic order of the member tuples.
    def _members(self, words: np.ndarray) -> np.ndarray:
        """Packed rows -> boolean membership (m, |F|)."""
        raw = words.astype(">u8").view(np.uint8).reshape(len(words), -1)
        return np.unpackbits(raw, axis=1)[:, : len(self.candidates)].astype(bool)

    @staticmethod
    def _unique_sorted(words: np.ndarray) -> np.ndarray:
        """Distinct packed rows in ascending numeric order."""
        if words.shape[1] == 1:
            return np.unique(words[:, 0])[:, None]
        words = words[np.lexsort(words.T[::-1])]
        keep = np.ones(len(words), dtype=bool)
        keep[1:] = (words[1:] != words[:-1]).any(axis=1)
        return words[keep]

    def _grow(self, words: np.ndarray) -> np.ndarray:
        """All legal sets one larger than the legal sets ``words``, packed and unique.

        A node can be added to a legal set S iff one of its occurrences hangs off the root
        or off an occurrence whose whole ancestor chain lies in S. Every legal set of size
        k+1 minus its member reached deepest is legal, so growth reaches all of them.
        Rows are processed in chunks so the (rows x occurrences) masks stay ~16 MB.
        """
        step = max(64, self._CHUNK_CELLS // len(self._node))
        if len(words) > step:
            parts = [self._grow_chunk(words[s:s + step]) for s in range(0, len(words), step)]
            return self._unique_sorted(np.concatenate(parts))
        return self._unique_sorted(self._grow_chunk(words))

    def _grow_chunk(self, words: np.ndarray) -> np.ndarray:
        member = self._members(words)
        lab = np.searchsorted(self._cand, self._node[1:])  # occurrence -> candidate position
        par = self._parent[1:]  # parent occurrence (0 = root)
        depth = self._depth[1:]
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
        grown[np.arange(len(rows)), cols // 64] |= np.left_shift(np.uint64(1), (63 - cols % 64).astype(np.uint64))
        return grown

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
        member = self._members(self._level(k)[::-1])  # lexicographic order
        drop = [self._pos[n] for n in exclude if n in self._pos]
        if drop:
            member = member[~member[:, drop].any(axis=1)]
        pos = np.nonzero(member)[1].reshape(len(member), k)  # row-major: ascending per row
        dist = self._cand_depth[pos].sum(axis=1)
        order = np.argsort(dist, kind="stable")
        return self._cand[pos[order]], dist[order]

    def legal_subsets(self, k: int, exclude: Iterable[int] = ()) -> list[tuple[Subset, int]]:
        """``legal_subset_arrays`` as a list of ``(set, dist_sum)``."""
        sets, dist = self.legal_subset_arrays(k, exclude)
        return list(zip(map(tuple, sets.tolist()), dist.tolist()))


def build_pds_tree(pag: PAG, root: int, max_depth: int) -> PDSTree:
    """The PDS tree of ``pag`` rooted at ``root`` with depth limit ``max_depth``.

    The reference pops one (previous, current) pair at a time; we process a whole BFS
    layer at once with the same result. Within a layer the pops only interact through
    the skeleton edges they consume, the collider test reads the fixed PAG, and a pop
    sees S minus what earlier pops consumed, so an edge goes to the *earliest* pop (FIFO
    order) for which it is a candidate, from either end. Children keep pop order, then
    ascending node order, exactly as the queue would insert them.
    """
    marks = pag.marks
    n = marks.shape[0]
    adj = marks != 0
    arrow = marks == ARROW
    skel = adj.copy()
    skel[root, :] = False
    skel[:, root] = False

    first = np.flatnonzero(adj[root])
    nodes, depths, parents = [np.array([root], dtype=np.intp), first], [np.zeros(1, np.intp)], [np.array([-1])]
    depths.append(np.ones(len(first), dtype=np.intp))
    parents.append(np.zeros(len(first), dtype=np.intp))
    layer_occ = np.arange(1, len(first) + 1)  # occurrences of the current layer, in pop order
    layer_prev = np.full(len(first), root)  # the "previous" node of each pop
    size, depth = 1 + len(first), 1
    while len(layer_occ) and depth < max_depth:
        cur = nodes[-1]
        # possible collider (prev, cur, w): prev and w adjacent, or arrowheads at cur on both edges
        cand = adj[layer_prev] | (arrow[cur, layer_prev][:, None] & arrow[cur])
        cand &= skel[cur]
        cand[np.arange(len(cur)), layer_prev] = False
        pop, w = np.nonzero(cand)  # row-major: pop order, then ascending w
        if not len(pop):
            break
        v = cur[pop]
        key = np.minimum(v, w) * n + np.maximum(v, w)
        claimed = np.sort(np.unique(key, return_index=True)[1])  # earliest pop wins each edge
        pop, w, v = pop[claimed], w[claimed], v[claimed]
        skel[v, w] = False
        skel[w, v] = False
        nodes.append(w)
        depths.append(np.full(len(w), depth + 1, dtype=np.intp))
        parents.append(layer_occ[pop])
        layer_prev = v
        layer_occ = np.arange(size, size + len(w))
        size += len(w)
        depth += 1
    node = np.concatenate(nodes).astype(np.intp)
    parent = np.concatenate(parents).astype(np.intp)
    count = np.bincount(parent[1:], minlength=size)
    start = np.searchsorted(parent[1:], np.arange(size)) + 1  # parents ascend in BFS order
    return PDSTree(root=root, _node=node, _depth=np.concatenate(depths), _parent=parent,
                   _child_start=start, _child_count=count)
