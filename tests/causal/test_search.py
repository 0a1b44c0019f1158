"""Explanation search against every golden explain entry (contract: ascending variant)."""
from __future__ import annotations

import pytest

from cleann.causal.golden import expected_explain, golden_pag, load_cases
from cleann.causal.pag import PAG
from cleann.causal.search import contains_any, search_explanations
from cleann.errors import BadInputError
from conftest import GOLDEN_DIR

ENTRIES = [
    pytest.param(case, k, id=f"{case['id']}-{k}")
    for case in load_cases(GOLDEN_DIR)
    for k in range(len(case["explain"]))
]


@pytest.mark.parametrize(("case", "k"), ENTRIES)
def test_search_matches_golden(case, k):
    entry = case["explain"][k]
    calls_seen = []

    def tester(cands):
        calls_seen.append(len(cands))
        return contains_any(entry["tester"]["sets"])(cands)

    found = search_explanations(
        golden_pag(case),
        entry["target"],
        tester,
        search_minimal=entry["search_minimal"],
        max_set_size=entry["max_set_size"],
        max_range=entry["max_range"],
    )
    result, calls = expected_explain(case, k)
    assert found.results == result
    assert found.tester_calls == calls == sum(calls_seen)
    # one batch per size, never an empty batch
    assert all(calls_seen)


def chain() -> PAG:
    # 0 o-> 1 <-o 2 <-> 3 : from 0, 1 is a collider with 2, and 2 with 3
    return PAG.from_rows(range(4), [(0, 1, "o", ">"), (1, 2, ">", ">"), (2, 3, ">", ">")])


def test_zero_max_set_size_calls_nothing():
    called = []
    found = search_explanations(chain(), 0, lambda c: called.append(c) or [True] * len(c), max_set_size=0)
    assert found.results == [] and found.tester_calls == 0 and called == []


def test_deep_node_needs_its_path_and_minimal_stops():
    found = search_explanations(chain(), 0, contains_any([[3]]))
    assert found.results == [((1, 2, 3), 6)]
    assert found.tester_calls == 3  # {1}, {1,2}, {1,2,3}
    full = search_explanations(chain(), 0, contains_any([[1]]), search_minimal=False)
    assert full.results == [((1,), 1), ((1, 2), 3), ((1, 2, 3), 6)]


def test_max_range_zero_is_one_and_limits_depth():
    assert search_explanations(chain(), 0, contains_any([[2]]), max_range=0).results == []
    assert search_explanations(chain(), 0, contains_any([[2]]), max_range=1).tester_calls == 1
    assert search_explanations(chain(), 0, contains_any([[2]]), max_range=2).results == [((1, 2), 3)]


def test_bad_inputs():
    with pytest.raises(BadInputError, match="target 7"):
        search_explanations(chain(), 7, contains_any([[1]]))
    with pytest.raises(BadInputError, match="answers"):
        search_explanations(chain(), 0, lambda c: [])
    with pytest.raises(BadInputError, match="max_set_size"):
        search_explanations(chain(), 0, contains_any([[1]]), max_set_size=-1)
