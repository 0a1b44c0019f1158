"""Searching all heads' trees size by size together gives the per-head sets of the
minimal size over heads, and never tests more than the heads searched one by one."""
from __future__ import annotations

import pytest

from cleann.causal.golden import golden_pag, load_cases
from cleann.causal.pds_tree import build_pds_tree
from cleann.causal.search import search_tree, search_trees_together
from cleann.errors import BadInputError
from conftest import GOLDEN_DIR


def _trees_and_testers():
    """Every golden PAG as a 'head', each with the tester its case was produced with."""
    cases = [c for c in load_cases(GOLDEN_DIR) if c.get("explain")]
    out = []
    for case in cases:
        pag = golden_pag(case)
        for ex in case["explain"]:
            tree = build_pds_tree(pag, ex["target"], len(pag.nodes) - 1)
            wanted = [frozenset(s) for s in ex["tester"]["sets"]]
            out.append((tree, wanted))
    return out


def _accepts(wanted):
    return lambda s: any(w <= set(s) for w in wanted)


@pytest.mark.parametrize("group", [slice(0, 4), slice(4, 12), slice(12, None)])
def test_together_equals_minimal_size_of_separate_searches(group):
    items = _trees_and_testers()[group]
    assert items, "golden cases with explanations are needed"
    trees = [t for t, _ in items]
    testers = [_accepts(w) for _, w in items]
    separate = [search_tree(t, lambda c, f=f: [f(s) for s in c]) for t, f in zip(trees, testers)]
    joint_calls = []

    def joint(cands):
        joint_calls.append(len(cands))
        return [testers[h](s) for h, s in cands]

    together = search_trees_together(trees, joint)
    sizes = [len(r.results[0][0]) for r in separate if r.results]
    if not sizes:
        assert all(not r.results for r in together)
        return
    k = min(sizes)
    for sep, tog in zip(separate, together):
        expected = [item for item in sep.results if len(item[0]) == k]
        assert tog.results == expected
    assert sum(r.tester_calls for r in together) <= sum(r.tester_calls for r in separate)
    assert len(joint_calls) == k  # one tester call per size, all heads at once


def test_together_limits_and_bad_tester():
    (tree, wanted), = _trees_and_testers()[:1]
    assert all(r.results == [] and r.tester_calls == 0
               for r in search_trees_together([tree], lambda c: [True] * len(c), max_set_size=0))
    with pytest.raises(BadInputError, match="answers"):
        search_trees_together([tree], lambda c: [])
    with pytest.raises(BadInputError, match="max_set_size"):
        search_trees_together([tree], lambda c: [True] * len(c), max_set_size=-1)
