"""Metrics and baselines on the lexicon classifier, whose decisive tokens are known.

Rule: class 1 iff count(positive words) > count(negative words); ties give class 0.
"""
from __future__ import annotations

import numpy as np
import pytest

from cleann.baselines.inputs import text_input
from cleann.explainers import Explanation, Sample, get_explainer
from cleann.metrics.per_sample import evaluate_ranking, evaluate_set
from cleann.metrics.probes import TextProbe
from cleann.models.sentiment import SentimentTester

from evalkit import POSITIVE, infer_one

TEXT = "the acting was good and the plot was great but the ending was bad"


@pytest.fixture(params=["pad", "mask", "delete"])
def removal(request):
    return request.param


def _sample(lexicon, removal, text=TEXT):
    model, tok = lexicon
    inf = infer_one(lexicon, text)
    tester = SentimentTester(model, tok, inf, removal=removal)
    return inf, tester, TextProbe(tester)


def _pos(inf, word):
    return inf.tokens.index(word)


def test_oracle_agrees_with_the_tester(lexicon, removal):
    inf, tester, oracle = _sample(lexicon, removal)
    assert inf.pred == 1  # 2 positive vs 1 negative
    rng = np.random.default_rng(0)
    sets = [tuple(sorted(rng.choice(oracle.candidates, size=k, replace=False)))
            for k in (1, 1, 2, 3, 5, 8) for _ in range(4)]
    sets += [(_pos(inf, "good"),), (_pos(inf, "bad"),)]
    outcome = oracle(sets)
    assert outcome.changed.tolist() == tester(sets)
    assert outcome.changed[-2] and not outcome.changed[-1]


def test_tokens_to_flip_known_answers(lexicon, removal):
    inf, _, oracle = _sample(lexicon, removal)
    good, great, bad = _pos(inf, "good"), _pos(inf, "great"), _pos(inf, "bad")
    L = len(inf.token_ids)

    def ranking(first):
        scores = np.zeros(L, dtype=np.float32)
        for rank, p in enumerate(first):
            scores[p] = 100 - rank
        return Explanation("r", oracle.candidates, scores=scores)

    # removing one positive word makes a tie -> class 0
    assert evaluate_ranking(ranking([good]), oracle)["size"] == 1
    # the negative word first: 2 vs 0, then 1 vs 0 (still class 1), then 0 vs 0 (tie -> 0)
    assert evaluate_ranking(ranking([bad, good, great]), oracle)["size"] == 3
    # neutral words never flip; the first positive word at rank 4 flips
    neutral = [p for p in oracle.candidates if p not in (good, great, bad)][:3]
    assert evaluate_ranking(ranking(neutral + [great]), oracle)["size"] == 4


def test_comprehensiveness_high_for_decisive_words_and_zero_for_neutral(lexicon):
    inf, _, oracle = _sample(lexicon, "pad")
    good = _pos(inf, "good")
    neutral = _pos(inf, "acting")
    decisive = evaluate_set(Explanation("s", oracle.candidates, sets=((good,),)), oracle)
    useless = evaluate_set(Explanation("s", oracle.candidates, sets=((neutral,),)), oracle)
    assert decisive["found"] == 1.0 and decisive["size"] == 1.0
    # p(class 1) drops from ~1 to the tie's ~0.5
    assert decisive["comprehensiveness"] == pytest.approx(oracle.full_prob - 0.5, abs=0.01)
    assert oracle.full_prob > 0.99
    assert useless["found"] == 0.0
    assert abs(useless["comprehensiveness"]) < 1e-3
    # keeping only 'good' (+ specials): 1 positive vs 0 negative -> still class 1, sufficient
    assert decisive["sufficiency"] < 0.05


def test_integrated_gradients_finds_the_decisive_words(lexicon):
    inf, tester, oracle = _sample(lexicon, "pad")
    model, tok = lexicon
    view = type("View", (), {"special": inf.special_mask, "attention": inf.attention, "target": 0})()
    sample = Sample("s", "text", view, tester=tester, model_input=text_input(model, tok, inf, "pad"))
    attr = get_explainer("ig", n_steps=32).explain(sample)
    top = [inf.tokens[p] for p in attr.ranking()[:2]]
    assert set(top) <= set(POSITIVE)
    out = evaluate_ranking(attr, oracle, reference_size=1)
    assert out["size"] == 1.0 and out["found"] == 1.0
    assert out["comprehensiveness"] == pytest.approx(oracle.full_prob - 0.5, abs=0.01)
    assert out["aopc_comp"] > 0.4
