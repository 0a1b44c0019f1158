"""Partial ancestral graph (PAG) over a subset of attention positions.

Why a dense mark matrix: ICD, the orientation rules and the PDS-tree all ask "which
mark sits at node a on edge a-b" millions of times; an int8 matrix answers that in
O(1) and lets adjacency, neighbour lists and possible-ancestor closures be vectorised.

Convention (same as causal-learn and the golden cases): ``marks[a, b]`` is the mark
**at a** on the edge a-b; 0 means a and b are not adjacent.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

NONE, CIRCLE, ARROW, TAIL = 0, 1, 2, 3
MARK_TO_SYMBOL = {CIRCLE: "o", ARROW: ">", TAIL: "-"}
SYMBOL_TO_MARK = {symbol: mark for mark, symbol in MARK_TO_SYMBOL.items()}

EdgeRow = tuple[int, int, str, str]


class PAG:
    """Edges with one mark at each end, over ``nodes`` (positions in ``0..size-1``)."""

    def __init__(self, nodes: Iterable[int], size: int | None = None, complete: bool = True):
        self.nodes: tuple[int, ...] = tuple(sorted(int(n) for n in nodes))
        if len(set(self.nodes)) != len(self.nodes):
            raise ValueError(f"PAG nodes must be distinct, got {self.nodes}")
        if self.nodes and self.nodes[0] < 0:
            raise ValueError(f"PAG nodes must be non-negative positions, got {self.nodes}")
        self.size = int(size) if size is not None else (self.nodes[-1] + 1 if self.nodes else 0)
        if self.nodes and self.nodes[-1] >= self.size:
            raise ValueError(f"node {self.nodes[-1]} does not fit a graph of size {self.size}")
        self.marks = np.zeros((self.size, self.size), dtype=np.int8)
        if complete and self.nodes:
            idx = np.array(self.nodes)
            self.marks[np.ix_(idx, idx)] = CIRCLE
            self.marks[idx, idx] = NONE

    # --- queries -------------------------------------------------------------------
    def adjacent(self, a: int, b: int) -> bool:
        return bool(self.marks[a, b])

    def neighbors(self, a: int) -> np.ndarray:
        """Neighbours of ``a`` in ascending order."""
        return np.flatnonzero(self.marks[a])

    def mark(self, at: int, other: int) -> int:
        """The mark at ``at`` on the edge ``at``-``other`` (0 if not adjacent)."""
        return int(self.marks[at, other])

    def adjacency(self) -> np.ndarray:
        """Boolean adjacency matrix (symmetric)."""
        return self.marks != NONE

    def n_edges(self) -> int:
        return int(np.count_nonzero(np.triu(self.marks))) if self.size else 0

    # --- edits ---------------------------------------------------------------------
    def remove_edge(self, a: int, b: int) -> None:
        self.marks[a, b] = NONE
        self.marks[b, a] = NONE

    def reset_marks(self, mark: int = CIRCLE) -> None:
        """Put ``mark`` at both ends of every existing edge."""
        self.marks[self.marks != NONE] = mark

    def copy(self) -> PAG:
        other = PAG(self.nodes, self.size, complete=False)
        other.marks = self.marks.copy()
        return other

    # --- rows for storage and comparison -------------------------------------------
    def edges(self) -> list[EdgeRow]:
        """``(i, j, mark_at_i, mark_at_j)`` for every edge with ``i < j``, sorted."""
        ii, jj = np.nonzero(np.triu(self.marks))
        return [
            (int(i), int(j), MARK_TO_SYMBOL[int(self.marks[i, j])], MARK_TO_SYMBOL[int(self.marks[j, i])])
            for i, j in zip(ii, jj)
        ]

    @classmethod
    def from_rows(cls, nodes: Iterable[int], rows: Sequence[Sequence], size: int | None = None) -> PAG:
        """Rebuild a PAG from ``(i, j, mark_at_i, mark_at_j)`` rows."""
        pag = cls(nodes, size, complete=False)
        members = set(pag.nodes)
        for row in rows:
            i, j, mi, mj = int(row[0]), int(row[1]), row[2], row[3]
            if i not in members or j not in members or i == j:
                raise ValueError(f"edge {tuple(row)} does not join two distinct nodes of {pag.nodes}")
            try:
                pag.marks[i, j] = SYMBOL_TO_MARK[mi]
                pag.marks[j, i] = SYMBOL_TO_MARK[mj]
            except KeyError as exc:
                raise ValueError(f"edge {tuple(row)} has an unknown mark {exc}; use 'o', '>' or '-'") from None
        return pag

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PAG) and self.nodes == other.nodes and self.edges() == other.edges()

    def __repr__(self) -> str:
        return f"PAG(nodes={len(self.nodes)}, edges={self.n_edges()})"
