"""evaluate_ranking / evaluate_set against a bag-of-words oracle with known outcomes.

The oracle is the lexicon rule "class 1 iff #positive > #negative" over positions, with
p(class 1) = sigmoid(#pos - #neg - 0.5); removing positions removes their words.
"""
from __future__ import annotations

import numpy as np
import pytest

from cleann.explainers.base import Cost, Explanation
from cleann.metrics.probes import Outcome
from cleann.metrics.per_sample import evaluate_ranking, evaluate_set

POS, NEG = {2, 4}, {5}
CANDIDATES = (1, 2, 3, 4, 5, 6)


def _p(removed: set[int]) -> float:
    margin = len(POS - removed) - len(NEG - removed) - 0.5
    return 1.0 / (1.0 + np.exp(-margin))


class BagOracle:
    candidates = CANDIDATES

    def __init__(self):
        self.full_prob = _p(set())
        self.calls: list[int] = []

    def __call__(self, removals):
        self.calls.append(len(removals))
        probs = np.array([_p(set(r)) for r in removals])
        return Outcome(prob=probs, changed=probs < 0.5, replacement_rank=np.full(len(removals), np.nan))


def _ranking(order):
    scores = np.zeros(8, dtype=np.float32)
    scores[list(order)] = np.arange(len(order), 0, -1)
    return Explanation("fake", CANDIDATES, scores=scores, cost=Cost(seconds=0.5, forward_rows=3))


@pytest.mark.parametrize("order, expected", [((2, 4, 1, 3, 5, 6), 1), ((1, 3, 2, 4, 5, 6), 3),
                                             ((5, 1, 3, 6, 2, 4), 6)])
def test_tokens_to_flip_is_the_first_flipping_prefix(order, expected):
    out = evaluate_ranking(_ranking(order), BagOracle())
    assert out["found"] == 1.0 and out["size"] == expected


def test_flip_search_continues_in_chunks_and_respects_budget():
    oracle = BagOracle()
    out = evaluate_ranking(_ranking((5, 1, 3, 6, 2, 4)), oracle, chunk=2)
    assert out["size"] == 6 and len(oracle.calls) > 1
    assert all(c <= 2 for c in oracle.calls[1:])
    capped = evaluate_ranking(_ranking((5, 1, 3, 6, 2, 4)), BagOracle(), max_k=4)
    assert capped["found"] == 0.0 and "size" not in capped


def test_comprehensiveness_sufficiency_and_aopc_known_values():
    full = _p(set())
    out = evaluate_ranking(_ranking((2, 4, 1, 3, 5, 6)), BagOracle(), reference_size=2)
    # top-2 = {2, 4}: removing both leaves 0 pos vs 1 neg; keeping only them: 2 vs 0.
    assert out["comprehensiveness"] == pytest.approx(full - _p({2, 4}))
    assert out["sufficiency"] == pytest.approx(full - _p({1, 3, 5, 6}))
    # bins of 6 candidates: k = 1, 1, 1, 2, 3
    comp = [full - _p({2})] * 3 + [full - _p({2, 4}), full - _p({1, 2, 4})]
    assert out["comp@1"] == pytest.approx(comp[0]) and out["comp@50"] == pytest.approx(comp[4])
    assert out["aopc_comp"] == pytest.approx(np.mean(comp))
    assert out["seconds"] == 0.5 and out["forward_passes"] == 3


def test_good_ranking_beats_bad_ranking_on_comprehensiveness():
    good = evaluate_ranking(_ranking((2, 4, 1, 3, 5, 6)), BagOracle())
    bad = evaluate_ranking(_ranking((5, 1, 3, 6, 2, 4)), BagOracle())
    assert good["aopc_comp"] > bad["aopc_comp"]
    assert good["aopc_suff"] < bad["aopc_suff"]


def test_evaluate_set_reports_size_and_faithfulness():
    oracle = BagOracle()
    out = evaluate_set(Explanation("cleann", CANDIDATES, sets=((4,),)), oracle)
    assert out["found"] == 1.0 and out["size"] == 1.0
    assert out["comprehensiveness"] == pytest.approx(oracle.full_prob - _p({4}))
    assert evaluate_set(Explanation("cleann", CANDIDATES), oracle)["found"] == 0.0
    # a set that does not change the decision is not counted as found
    assert evaluate_set(Explanation("cleann", CANDIDATES, sets=((1,),)), oracle)["found"] == 0.0
