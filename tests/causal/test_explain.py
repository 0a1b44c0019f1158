"""Public entry point: end to end on golden cases, graph reuse, and input errors."""
from __future__ import annotations

import numpy as np
import pytest

from cleann.causal import explain_attention, learn_graph, search_explanations
from cleann.causal.golden import expected_explain, expected_pag_edges, load_cases
from cleann.causal.search import contains_any
from cleann.errors import BadInputError
from conftest import GOLDEN_DIR

CASES = {case["id"]: case for case in load_cases(GOLDEN_DIR)}


def _args(case: dict) -> dict:
    return dict(nodes=case["nodes"], num_samples=case["num_samples"], alpha=case["alpha"],
                legacy_negative_pcorr=case["legacy_negative_pcorr"])


@pytest.mark.parametrize("case_id", ["case_005", "case_015", "case_032", "case_038"])
def test_explain_attention_end_to_end(case_id):
    case = CASES[case_id]
    attention = np.array(case["attention"])
    for k, entry in enumerate(case["explain"]):
        batches = []

        def tester(cands, sets=entry["tester"]["sets"]):
            batches.append(len(cands))
            return contains_any(sets)(cands)

        out = explain_attention(
            attention, entry["target"], tester, search_minimal=entry["search_minimal"],
            max_set_size=entry["max_set_size"], max_range=entry["max_range"], **_args(case),
        )
        result, calls = expected_explain(case, k)
        assert [list(e) for e in out.pag.edges()] == expected_pag_edges(case)
        assert out.results == result and out.tester_calls == calls == sum(batches)
        assert out.ci_tests > 0 and out.seconds_graph > 0 and out.seconds_search >= 0
        assert out.pds_tree.rows[0] == [entry["target"], 0, -1]


def test_learn_once_explain_many_targets():
    case = CASES["case_005"]
    graph = learn_graph(np.array(case["attention"]), **_args(case))
    assert [list(e) for e in graph.pag.edges()] == expected_pag_edges(case)
    for k, entry in enumerate(case["explain"]):
        found = search_explanations(graph, entry["target"], contains_any(entry["tester"]["sets"]),
                                    search_minimal=entry["search_minimal"],
                                    max_set_size=entry["max_set_size"], max_range=entry["max_range"])
        assert (found.results, found.tester_calls) == expected_explain(case, k)


def test_defaults_use_all_positions_and_fci_learner():
    case = CASES["case_000"]
    attention = np.array(case["attention"])
    graph = learn_graph(attention, num_samples=case["num_samples"], alpha=case["alpha"], learner="fci")
    assert graph.pag.nodes == tuple(range(len(attention))) and graph.learner == "fci"
    out = explain_attention(attention, 1, contains_any([[99]]), num_samples=384, max_set_size=0)
    assert out.results == [] and out.tester_calls == 0


@pytest.mark.parametrize(
    ("attention", "kwargs", "match"),
    [
        (np.ones((3, 4)), {}, "square"),
        (np.full((3, 3), np.nan), {}, "NaN"),
        (-np.ones((3, 3)), {}, "non-negative"),
        (np.ones((3, 3)), {"target": 5}, "target 5"),
        (np.ones((3, 3)), {"nodes": [0, 3]}, "outside"),
        (np.ones((3, 3)), {"nodes": [0, 0, 1]}, "duplicates"),
        (np.ones((3, 3)), {"learner": "pc"}, "learner"),
        (np.ones((3, 3)), {"learner": "fci", "max_cond_size": 2}, "max_cond_size"),
        (np.ones((3, 3)), {"max_set_size": -1}, "max_set_size"),
    ],
)
def test_bad_inputs(attention, kwargs, match):
    target = kwargs.pop("target", 0)
    with pytest.raises(BadInputError, match=match):
        explain_attention(attention, target, contains_any([[1]]), num_samples=64, **kwargs)
