"""Orientation rules R0-R10 on hand-made PAGs, including the reference's quirks."""
from __future__ import annotations

import numpy as np
import pytest

from cleann.causal import orientation as ori
from cleann.causal.pag import ARROW, CIRCLE, PAG, TAIL


def _pag(n: int, rows) -> PAG:
    return PAG.from_rows(range(n), rows)


def _apply(rule: int, pag: PAG, sepsets=None) -> bool:
    nodes = np.array(pag.nodes)
    return ori.RULES[rule](pag.marks, nodes, pag.marks != 0, sepsets or {})


def _edge(pag: PAG, i: int, j: int) -> tuple:
    return next(e for e in pag.edges() if e[:2] == (i, j))


def test_r0_orients_unshielded_colliders_only_outside_sepset():
    pag = _pag(4, [(0, 2, "o", "o"), (1, 2, "o", "o"), (2, 3, "o", "o")])
    ori.orient_v_structures(pag.marks, np.arange(4), {(0, 1): (), (0, 3): (2,), (1, 3): (2,)})
    assert pag.edges() == [(0, 2, "o", ">"), (1, 2, "o", ">"), (2, 3, "o", "o")]


def test_r0_keeps_existing_arrowheads_giving_bidirected_edges():
    pag = _pag(4, [(0, 1, "o", "o"), (1, 2, "o", "o"), (2, 3, "o", "o")])
    ori.orient_v_structures(pag.marks, np.arange(4), {(0, 2): (), (1, 3): (), (0, 3): ()})
    assert _edge(pag, 1, 2) == (1, 2, ">", ">")


def test_r1():
    pag = _pag(3, [(0, 1, "o", ">"), (1, 2, "o", "o")])
    assert _apply(1, pag)
    assert _edge(pag, 1, 2) == (1, 2, "-", ">")
    assert not _apply(1, pag)


@pytest.mark.parametrize("rows", [
    [(0, 1, "o", ">"), (1, 2, "-", ">"), (0, 2, "o", "o")],  # a *-> b --> c
    [(0, 1, "-", ">"), (1, 2, "o", ">"), (0, 2, "o", "o")],  # a --> b *-> c
])
def test_r2(rows):
    pag = _pag(3, rows)
    assert _apply(2, pag)
    assert _edge(pag, 0, 2) == (0, 2, "o", ">")


def test_r3():
    pag = _pag(4, [(0, 1, "o", ">"), (1, 2, ">", "o"), (0, 3, "o", "o"), (2, 3, "o", "o"), (1, 3, "o", "o")])
    assert _apply(3, pag)
    assert _edge(pag, 1, 3) == (1, 3, ">", "o")


@pytest.mark.parametrize(("sepset", "expected"), [
    ((2,), [(2, 3, "-", ">")]),
    ((), [(1, 2, ">", ">"), (2, 3, ">", ">")]),
])
def test_r4_discriminating_path(sepset, expected):
    # d=0 o-> a=1 <-o b=2 o-o c=3, a --> c, d and c non-adjacent
    pag = _pag(4, [(0, 1, "o", ">"), (1, 2, ">", "o"), (1, 3, "-", ">"), (2, 3, "o", "o")])
    assert _apply(4, pag, {(0, 3): sepset, (0, 2): ()})
    for edge in expected:
        assert _edge(pag, *edge[:2]) == edge


def test_discriminating_path_goes_through_bidirected_parents_of_c():
    # e=0 *-> d=4 <-> a=1 <-* b=2, d --> c, a --> c, e !~ c: the source is e
    pag = _pag(5, [(0, 4, "o", ">"), (1, 4, ">", ">"), (1, 2, ">", "o"), (1, 3, "-", ">"),
                   (2, 3, "o", "o"), (3, 4, ">", "-")])
    adj = pag.marks != 0
    assert ori.discriminating_path_source(pag.marks, adj, 1, 2, 3) == 0


def test_r5_uncovered_circle_cycle_becomes_undirected():
    pag = _pag(4, [(0, 1, "o", "o"), (1, 2, "o", "o"), (2, 3, "o", "o"), (0, 3, "o", "o")])
    assert _apply(5, pag)
    assert {e[2:] for e in pag.edges()} == {("-", "-")}


def test_r5_needs_an_uncovered_path():
    pag = _pag(3, [(0, 1, "o", "o"), (1, 2, "o", "o"), (0, 2, "o", "o")])  # a triangle is covered
    assert not _apply(5, pag)


@pytest.mark.parametrize(("rule", "rows", "edge"), [
    (6, [(0, 1, "-", "-"), (1, 2, "o", "o")], (1, 2, "-", "o")),
    (7, [(0, 1, "-", "o"), (1, 2, "o", "o")], (1, 2, "-", "o")),
    (8, [(0, 1, "-", ">"), (1, 2, "-", ">"), (0, 2, "o", ">")], (0, 2, "-", ">")),
    (8, [(0, 1, "-", "o"), (1, 2, "-", ">"), (0, 2, "o", ">")], (0, 2, "-", ">")),
])
def test_tail_rules(rule, rows, edge):
    pag = _pag(3, rows)
    assert _apply(rule, pag)
    assert _edge(pag, *edge[:2]) == edge


def test_r7_needs_non_adjacent_a_c():
    pag = _pag(3, [(0, 1, "-", "o"), (1, 2, "o", "o"), (0, 2, "o", "o")])
    assert not _apply(7, pag)


def test_r9_orients_one_edge_per_call():
    # two copies of: a o-> c with an uncovered p.d. path a o-o b o-o d o-> c
    rows = []
    for off in (0, 4):
        a, b, d, c = off, off + 1, off + 2, off + 3
        rows += [(a, c, "o", ">"), (a, b, "o", "o"), (b, d, "o", "o"), (d, c, "o", ">")]
    pag = _pag(8, rows)
    before = pag.marks.copy()
    assert _apply(9, pag)
    assert np.count_nonzero(before != pag.marks) == 1  # returned after its first change
    assert _edge(pag, 0, 3) == (0, 3, "-", ">") and _edge(pag, 4, 7) == (4, 7, "o", ">")
    while _apply(9, pag):
        pass
    assert _edge(pag, 4, 7) == (4, 7, "-", ">")


def test_r9_path_must_be_possibly_directed():
    # a=0 o-> c=3 with path 0 o-o 1 <-- 2 o-> 3: not possibly directed from 0, so 0-3 keeps
    # its circle (2 o-> 3 itself does qualify, through 2 --> 1 o-o 0 o-> 3)
    pag = _pag(4, [(0, 3, "o", ">"), (0, 1, "o", "o"), (1, 2, ">", "-"), (2, 3, "o", ">")])
    while _apply(9, pag):
        pass
    assert _edge(pag, 0, 3) == (0, 3, "o", ">")
    assert _edge(pag, 2, 3) == (2, 3, "-", ">")


def test_r10_simple_and_adjacency_only_paths():
    pag = _pag(4, [(0, 3, "o", ">"), (1, 3, "-", ">"), (2, 3, "-", ">"), (0, 1, "o", ">"), (0, 2, "o", ">")])
    assert _apply(10, pag)
    assert _edge(pag, 0, 3) == (0, 3, "-", ">")
    # path a o-o e <-- b is not possibly directed, yet the reference accepts it (adjacency only)
    pag = _pag(5, [(0, 3, "o", ">"), (1, 3, "-", ">"), (2, 3, "-", ">"), (0, 4, "o", "o"),
                   (1, 4, "-", ">"), (0, 2, "o", ">")])
    assert _apply(10, pag)
    assert _edge(pag, 0, 3) == (0, 3, "-", ">")


def test_uncovered_path_quirk_equal_neighbours():
    adj = np.zeros((3, 3), dtype=bool)
    everyone = np.ones(3, dtype=bool)
    assert ori.uncovered_path(adj, 0, 2, 1, 1, adj, everyone) == [1]  # returned unchecked


def test_fixpoint_runs_rules_until_stable():
    # R1 chain: 0 o-> 1 o-o 2 o-o 3 becomes 1 --> 2 --> 3 over two applications
    pag = _pag(4, [(0, 1, "o", ">"), (1, 2, "o", "o"), (2, 3, "o", "o")])
    ori.orient_fixpoint(pag.marks, np.arange(4), {}, (1, 2, 3, 4))
    assert pag.edges() == [(0, 1, "o", ">"), (1, 2, "-", ">"), (2, 3, "-", ">")]


def test_possible_ancestors_equals_bfs():
    rng = np.random.default_rng(0)
    for _ in range(30):
        n = 9
        adj = np.triu(rng.random((n, n)) < 0.35, 1)
        adj = adj | adj.T
        marks = np.where(adj, rng.choice([CIRCLE, ARROW, TAIL], size=(n, n)), 0).astype(np.int8)
        pp = ori.possible_parent_matrix(marks)
        anc = ori.possible_ancestors(marks)
        for a in range(n):
            seen, stack = set(), [a]
            while stack:
                v = stack.pop()
                for w in np.flatnonzero(pp[v]).tolist():
                    if w not in seen:
                        seen.add(w)
                        stack.append(w)
            assert set(np.flatnonzero(anc[a]).tolist()) == seen


def _recursive_uncovered_path(adj, x, y, nx, ny, cond, allowed):
    """The reference's recursion, verbatim in structure (exponential, small graphs only)."""
    if nx == ny:
        return [nx]
    allowed = allowed.copy()
    allowed[[x, y, nx, ny]] = False
    if cond[nx, ny] and not adj[nx, y] and not adj[x, ny]:
        return [nx, ny]
    for t in np.flatnonzero(adj[nx] & allowed & cond[nx] & ~adj[x]).tolist():
        path = _recursive_uncovered_path(adj, nx, y, t, ny, cond, allowed)
        if path is not None:
            return [nx, *path]
    return None


@pytest.mark.parametrize("prune_after", [0, 256])
def test_uncovered_path_matches_reference_recursion(monkeypatch, prune_after):
    monkeypatch.setattr(ori, "_PRUNE_AFTER", prune_after)
    rng = np.random.default_rng(prune_after)
    for _ in range(300):
        n = int(rng.integers(5, 13))
        adj = np.triu(rng.random((n, n)) < rng.uniform(0.15, 0.5), 1)
        adj = adj | adj.T
        cond = adj & (rng.random((n, n)) < rng.uniform(0.5, 1.0))
        everyone = np.ones(n, dtype=bool)
        x, y, nx, ny = rng.choice(n, 4, replace=False).tolist()
        want = _recursive_uncovered_path(adj, x, y, nx, ny, cond, everyone)
        assert ori.uncovered_path(adj, x, y, nx, ny, cond, everyone) == want


def test_uncovered_path_search_is_not_exponential_on_sparse_circle_graphs():
    # a triangle-free o-o grid: every walk is uncovered, self-avoiding walks trap themselves
    adj = _grid(12)
    n = len(adj)
    pag = PAG(range(n), complete=False)
    pag.marks[adj] = CIRCLE
    assert ori.rule_5(pag.marks, np.arange(n), adj, {})


def _grid(m: int) -> np.ndarray:
    adj = np.zeros((m * m, m * m), dtype=bool)
    for i in range(m):
        for j in range(m):
            v = i * m + j
            if j + 1 < m:
                adj[v, v + 1] = adj[v + 1, v] = True
            if i + 1 < m:
                adj[v, v + m] = adj[v + m, v] = True
    return adj


def test_uncovered_path_search_gives_up_with_a_clear_error(monkeypatch):
    adj = _grid(5)  # triangle-free: from corner 0 via 1 to 24, entered from 23, is 7+ steps
    everyone = np.ones(len(adj), dtype=bool)
    found = ori.uncovered_path(adj, 0, 23, 1, 24, adj, everyone)
    assert found is not None and found[0] == 1 and found[-1] == 24 and len(found) > 4
    monkeypatch.setattr(ori, "MAX_PATH_STEPS", 3)
    with pytest.raises(ori.PathSearchBudgetExceeded, match=r"<0, 1, \.\.\., 24, 23> on a 25-node graph exceeded 3 steps"):
        ori.uncovered_path(adj, 0, 23, 1, 24, adj, everyone)


def test_can_finish_is_a_relaxation_of_the_search():
    # wherever the exact search finds a path through (prev, t), the relaxation must say True
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(200):
        n = int(rng.integers(6, 12))
        adj = np.triu(rng.random((n, n)) < rng.uniform(0.2, 0.5), 1)
        adj = adj | adj.T
        x, y, nx, ny = rng.choice(n, 4, replace=False).tolist()
        path = _recursive_uncovered_path(adj, x, y, nx, ny, adj, np.ones(n, dtype=bool))
        if path is None or len(path) < 4:
            continue
        through = np.ones(n, dtype=bool)
        through[[x, y, nx, ny, path[1]]] = False
        assert ori._can_finish(ori._finish_tables(adj, adj, y, ny), path[0], path[1], through)
        checked += 1
    assert checked > 10
