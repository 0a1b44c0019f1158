"""Which attention heads and which graph nodes one explanation is learned over.

Why: the graph can be learned over every real token, over the top-k tokens the target
attends to (the others stay in the attention matrix as latent variables), or over whole
words. Explanations are always reported as token positions, so every node carries the
token positions it stands for.

Word merging (``nodes="words"``): word pieces with the same ``word_ids`` entry become one
node; special tokens stay single nodes. The word-level matrix is
``A_w[g, h] = mean_{i in g} sum_{j in h} A[i, j]``: summing columns keeps each row a
distribution (attention paid to the whole word) and averaging rows makes the word attend
like its average piece. A removed word removes all of its pieces.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cleann.pipeline.params import parse_heads, parse_nodes

MEAN_HEAD = -1  # head id stored for the head-averaged attention


@dataclass(frozen=True)
class NodePlan:
    """The matrix to learn on, its target row, the node subset, and node -> token positions."""

    attention: np.ndarray  # [G, G]
    target: int
    nodes: tuple[int, ...] | None  # None = all G nodes
    groups: tuple[tuple[int, ...], ...]  # node index -> token positions

    def to_positions(self, node_set: Sequence[int]) -> tuple[int, ...]:
        """Token positions covered by a set of nodes (sorted)."""
        return tuple(sorted(p for n in node_set for p in self.groups[n]))

    def representative(self, node: int) -> int:
        """One token position standing for a node (its first piece): used for graph edges."""
        return self.groups[node][0]


def head_matrices(attention: np.ndarray, heads: str) -> list[tuple[int, np.ndarray]]:
    """Per-head ``[L, L]`` matrices for a ``[H, L, L]`` tensor; ``mean`` gives head -1."""
    spec = parse_heads(heads)
    if spec == "mean":
        return [(MEAN_HEAD, attention.mean(axis=0))]
    n_heads = attention.shape[0]
    chosen = range(n_heads) if spec == "all" else spec
    bad = [h for h in chosen if h >= n_heads]
    if bad:
        from cleann.errors import BadInputError

        raise BadInputError(f"heads {heads!r}: head {bad[0]} does not exist (model has {n_heads})")
    return [(int(h), attention[h]) for h in chosen]


def word_groups(word_ids: Sequence[int | None]) -> tuple[tuple[int, ...], ...]:
    """Token positions grouped by word, in order of first appearance; specials alone."""
    groups: list[list[int]] = []
    by_word: dict[int, int] = {}
    for pos, wid in enumerate(word_ids):
        if wid is None:
            groups.append([pos])
        elif wid in by_word:
            groups[by_word[wid]].append(pos)
        else:
            by_word[wid] = len(groups)
            groups.append([pos])
    return tuple(tuple(g) for g in groups)


def merge_attention(attention: np.ndarray, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """Word-level attention: rows averaged over a group's pieces, columns summed."""
    length = attention.shape[-1]
    member = np.zeros((len(groups), length), dtype=np.float64)
    for g, positions in enumerate(groups):
        member[g, list(positions)] = 1.0
    row_mean = member / member.sum(axis=1, keepdims=True)
    return (row_mean @ attention.astype(np.float64) @ member.T).astype(attention.dtype)


def plan_nodes(
    attention: np.ndarray,
    target: int,
    spec: str,
    word_ids: Sequence[int | None] | None = None,
) -> NodePlan:
    """Node plan for one ``[L, L]`` head matrix and the target position."""
    kind, k = parse_nodes(spec)
    length = attention.shape[-1]
    if kind == "words" and word_ids is not None:
        groups = word_groups(word_ids)
        node_of = {p: g for g, positions in enumerate(groups) for p in positions}
        return NodePlan(merge_attention(attention, groups), node_of[target], None, groups)
    groups = tuple((p,) for p in range(length))
    if kind == "topk" and k is not None and k + 1 < length:
        nodes = tuple(sorted({int(target), *map(int, top_attended(attention, target, k))}))
        return NodePlan(attention, int(target), nodes, groups)
    return NodePlan(attention, int(target), None, groups)


def top_attended(attention: np.ndarray, target: int, k: int) -> np.ndarray:
    """Positions the target attends to most (excluding itself), best first."""
    scores = attention[target].astype(np.float64).copy()
    scores[target] = -np.inf
    return np.argsort(-scores, kind="stable")[: max(0, min(k, len(scores) - 1))]
