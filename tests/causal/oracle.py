"""A perfect independence oracle: d-separation in a DAG with latent variables.

Why: with an oracle, ICD must recover the true MAG's skeleton exactly, which checks the
whole search (candidate sets, PDS trees, possible ancestors, orientations feeding the
next iteration) independently of any statistics. Observed variables are DAG nodes
0..n_obs-1; the rest are latent and never enter a query.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np


def random_dag(n_nodes: int, edge_prob: float, rng: np.random.Generator) -> np.ndarray:
    """``parents[a, b]``: a -> b, only for a < b (index order is a topological order),
    then the node labels are shuffled so observed/latent roles are not tied to order."""
    upper = np.triu(rng.random((n_nodes, n_nodes)) < edge_prob, 1)
    perm = rng.permutation(n_nodes)
    return upper[np.ix_(perm, perm)]


def ancestors_of(dag: np.ndarray, nodes: set[int]) -> set[int]:
    """``nodes`` and all their ancestors."""
    seen, stack = set(nodes), list(nodes)
    while stack:
        v = stack.pop()
        for p in np.flatnonzero(dag[:, v]).tolist():
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return seen


def d_separated(dag: np.ndarray, x: int, y: int, cond: set[int]) -> bool:
    """Lauritzen's criterion: moralise the ancestral set of {x, y} ∪ Z, delete Z, test
    whether x and y are disconnected."""
    keep = ancestors_of(dag, {x, y, *cond})
    idx = sorted(keep)
    sub = dag[np.ix_(idx, idx)]
    moral = sub | sub.T
    for child in range(len(idx)):
        pa = np.flatnonzero(sub[:, child])
        for a, b in combinations(pa.tolist(), 2):
            moral[a, b] = moral[b, a] = True
    pos = {v: k for k, v in enumerate(idx)}
    blocked = {pos[z] for z in cond}
    seen, stack = {pos[x]}, [pos[x]]
    while stack:
        v = stack.pop()
        for w in np.flatnonzero(moral[v]).tolist():
            if w == pos[y]:
                return False
            if w not in seen and w not in blocked:
                seen.add(w)
                stack.append(w)
    return True


class DSepOracle:
    """``independent(x, y, cond)`` is d-separation in ``dag`` (observed = 0..n_obs-1)."""

    def __init__(self, dag: np.ndarray, n_obs: int):
        self.dag = dag
        self.n_obs = n_obs
        self.calls = 0

    def independent(self, x: int, y: int, cond=()) -> bool:
        self.calls += 1
        assert max(x, y, *cond) < self.n_obs and x != y and x not in cond and y not in cond
        return d_separated(self.dag, int(x), int(y), {int(z) for z in cond})


def mag_adjacencies(oracle: DSepOracle) -> set[tuple[int, int]]:
    """Pairs (a < b) adjacent in the true MAG: no subset of the other observed nodes
    m-separates them (brute force; fine for <= 7 observed nodes)."""
    n = oracle.n_obs
    adjacent = set()
    for a, b in combinations(range(n), 2):
        rest = [v for v in range(n) if v not in (a, b)]
        if not any(
            d_separated(oracle.dag, a, b, set(sub)) for k in range(len(rest) + 1) for sub in combinations(rest, k)
        ):
            adjacent.add((a, b))
    return adjacent
