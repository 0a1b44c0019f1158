"""PDS tree against every golden explain entry, and legal subsets against brute force."""
from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleann.causal.golden import golden_pag, load_cases
from cleann.causal.pag import ARROW, PAG
from cleann.causal.pds_tree import build_pds_tree
from conftest import GOLDEN_DIR

ENTRIES = [
    pytest.param(case, entry, id=f"{case['id']}-{k}")
    for case in load_cases(GOLDEN_DIR)
    for k, entry in enumerate(case["explain"])
]


@pytest.mark.parametrize(("case", "entry"), ENTRIES)
def test_tree_matches_golden(case, entry):
    pag = golden_pag(case, ascending=False)
    depth = entry["max_range"] if entry["max_range"] is not None else len(case["nodes"]) - 1
    tree = build_pds_tree(pag, entry["target"], depth)
    assert tree.rows == entry["pds_tree"]
    assert list(tree.candidates) == entry["full_explanation_set"]
    assert tree.max_depth_count == entry["max_pds_tree_depth"]


def brute_legal(rows, subset) -> bool:
    """FORMAT §8.2 read literally: each member has an occurrence whose non-root
    ancestors all lie in the subset."""
    members = set(subset)

    def chain_ok(r: int) -> bool:
        parent = rows[r][2]
        while parent > 0:
            if rows[parent][0] not in members:
                return False
            parent = rows[parent][2]
        return True

    return all(any(row[0] == v and chain_ok(r) for r, row in enumerate(rows) if r > 0) for v in members)


@st.composite
def random_pags(draw):
    n = draw(st.integers(2, 9))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    rows = []
    density = draw(st.floats(0.2, 0.9))
    for i, j in combinations(range(n), 2):
        if rng.random() < density:
            mi, mj = rng.choice(["o", ">", "-"], size=2)
            rows.append((i, j, str(mi), str(mj)))
    return PAG.from_rows(range(n), rows), draw(st.integers(0, n - 1)), draw(st.integers(0, n))


def fifo_tree_rows(pag: PAG, root: int, max_depth: int) -> list[list[int]]:
    """FORMAT §8.1 literally: one (prev, cur) pop at a time; pre-order rows."""
    from collections import deque

    n = pag.size
    skel = {(a, b) for a in range(n) for b in range(n) if pag.adjacent(a, b) and root not in (a, b)}
    occ = [(root, 0, -1)]  # (node, depth, parent occurrence)
    children: dict[int, list[int]] = {0: []}
    queue = deque()
    for w in pag.neighbors(root).tolist():
        occ.append((w, 1, 0)); children[0].append(len(occ) - 1); children[len(occ) - 1] = []  # noqa: E702
        queue.append((root, w, len(occ) - 1))
    while queue:
        u, v, o = queue.popleft()
        if occ[o][1] >= max_depth:
            continue
        for w in sorted(b for a, b in skel if a == v):
            collider = pag.mark(v, u) == ARROW and pag.mark(v, w) == ARROW
            if w != u and pag.adjacent(u, v) and pag.adjacent(v, w) and (pag.adjacent(u, w) or collider):
                skel -= {(v, w), (w, v)}
                occ.append((w, occ[o][1] + 1, o)); children[o].append(len(occ) - 1); children[len(occ) - 1] = []  # noqa: E702
                queue.append((v, w, len(occ) - 1))
    rows, row_of, stack = [], {-1: -1}, [0]
    while stack:
        o = stack.pop()
        row_of[o] = len(rows)
        rows.append([occ[o][0], occ[o][1], row_of[occ[o][2]]])
        stack.extend(reversed(children[o]))
    return rows


@st.composite
def arrow_heavy_pags(draw):
    n = draw(st.integers(2, 16))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    density, p_arrow = draw(st.floats(0.1, 0.9)), draw(st.floats(0.0, 1.0))
    rows = []
    for i, j in combinations(range(n), 2):
        if rng.random() < density:
            mi, mj = (">" if rng.random() < p_arrow else str(rng.choice(["o", "-"])) for _ in range(2))
            rows.append((i, j, mi, mj))
    return PAG.from_rows(range(n), rows), draw(st.integers(0, n - 1)), draw(st.integers(0, n))


@settings(max_examples=300, deadline=None)
@given(arrow_heavy_pags())
def test_layered_build_equals_one_pop_at_a_time(args):
    pag, root, depth = args
    assert build_pds_tree(pag, root, depth).rows == fifo_tree_rows(pag, root, depth)


@settings(max_examples=150, deadline=None)
@given(random_pags())
def test_legal_subsets_equal_brute_force(args):
    pag, root, depth = args
    tree = build_pds_tree(pag, root, depth)
    depths = tree.min_depth
    for k in range(1, len(tree.candidates) + 1):
        expected = [c for c in combinations(tree.candidates, k) if brute_legal(tree.rows, c)]
        expected = sorted(((c, sum(depths[v] for v in c)) for c in expected), key=lambda x: x[1])  # stable
        assert tree.legal_subsets(k) == expected
        exclude = tree.candidates[:1]
        assert tree.legal_subsets(k, exclude=exclude) == [e for e in expected if exclude[0] not in e[0]]


@settings(max_examples=50, deadline=None)
@given(random_pags())
def test_tree_invariants(args):
    pag, root, depth = args
    tree = build_pds_tree(pag, root, depth)
    assert tree.rows[0] == [root, 0, -1]
    assert set(tree.candidates) <= set(pag.nodes) - {root}
    assert [c for c, _ in tree.legal_subsets(1)] == [(v,) for v in pag.neighbors(root).tolist()]
    # every tree edge is a PAG edge and each skeleton edge is used at most once
    used = [frozenset((row[0], tree.rows[row[2]][0])) for row in tree.rows[1:]]
    assert len(used) == len(set(used))
    assert all(pag.adjacent(*e) for e in map(tuple, used))
    # depth limit 0 behaves as 1
    if depth == 0:
        assert tree.rows == build_pds_tree(pag, root, 1).rows


def test_isolated_root_and_marks_used():
    pag = PAG.from_rows(range(4), [(0, 1, "o", ">"), (1, 2, ">", "o"), (2, 3, "-", ">")])
    tree = build_pds_tree(pag, 0, 3)
    # 0 *-> 1 <-* 2 is a collider at 1, so 2 is reached; 1 *-o 2 is not an arrow at 2, so 3 is not
    assert tree.rows == [[0, 0, -1], [1, 1, 0], [2, 2, 1]]
    assert tree.max_depth_count == 3
    assert build_pds_tree(pag, 3, 3).rows == [[3, 0, -1], [2, 1, 0]]
    lonely = PAG.from_rows(range(3), [(1, 2, "o", "o")])
    tree = build_pds_tree(lonely, 0, 5)
    assert tree.rows == [[0, 0, -1]] and tree.candidates == () and tree.max_depth_count == 1
    assert tree.legal_subsets(1) == []


def test_more_than_64_candidates_use_multiword_rows():
    """70 depth-1 neighbours plus colliders reaching 10 more nodes: packed rows span two
    words, and the order must still be (dist_sum, lexicographic)."""
    rows = [(0, v, "o", ">") for v in range(1, 71)]
    rows += [(v, 70 + v, ">", "o") for v in range(1, 11)]  # 0 *-> v <-* 70+v: collider at v
    pag = PAG.from_rows(range(81), rows)
    tree = build_pds_tree(pag, 0, 3)
    assert len(tree.candidates) == 80
    depths = tree.min_depth
    for k in (1, 2):
        expected = [c for c in combinations(tree.candidates, k) if brute_legal(tree.rows, c)]
        expected = sorted(((c, sum(depths[v] for v in c)) for c in expected), key=lambda x: x[1])
        assert tree.legal_subsets(k) == expected
    sets, dist = tree.legal_subset_arrays(3, exclude=(5,))
    assert len(sets) == len({tuple(s) for s in sets.tolist()})
    assert all(brute_legal(tree.rows, tuple(s)) and 5 not in s for s in sets.tolist())
    keys = list(zip(dist.tolist(), sets.tolist()))
    assert keys == sorted(keys)


def test_growth_in_chunks_equals_one_pass(monkeypatch):
    rows = [(0, v, "o", ">") for v in range(1, 30)] + [(v, v + 29, ">", ">") for v in range(1, 20)]
    pag = PAG.from_rows(range(49), rows)
    whole = [build_pds_tree(pag, 0, 4).legal_subset_arrays(k) for k in (2, 3)]
    tree = build_pds_tree(pag, 0, 4)
    calls = []
    grow = type(tree)._grow_chunk
    monkeypatch.setattr(type(tree), "_grow_chunk", lambda self, w: calls.append(len(w)) or grow(self, w))
    monkeypatch.setattr(type(tree), "_CHUNK_CELLS", 64 * len(tree._node))  # 64-row chunks
    for k, (sets, dist) in zip((2, 3), whole):
        got = tree.legal_subset_arrays(k)
        assert np.array_equal(got[0], sets) and np.array_equal(got[1], dist)
    assert max(calls) <= 64 and len(calls) > 2


def test_occurrence_arrays_match_rows():
    pag = PAG.from_rows(range(5), [(0, 1, "o", ">"), (1, 2, ">", "o"), (0, 2, "o", "o"), (2, 3, ">", ">")])
    tree = build_pds_tree(pag, 0, 4)
    node, depth, parent = tree.occurrence_arrays()
    assert node[0] == 0 and depth[0] == 0 and parent[0] == -1
    assert all(parent[k] < k and depth[k] == depth[parent[k]] + 1 for k in range(1, len(node)))
    assert sorted(zip(node.tolist(), depth.tolist())) == sorted((r[0], r[1]) for r in tree.rows)
    with pytest.raises(ValueError):
        node[0] = 7
