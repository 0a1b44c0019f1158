"""Baselines: output shapes, candidates, cost accounting; text and recommendation."""
from __future__ import annotations

import numpy as np
import pytest

from cleann.baselines.attention import attention_rollout
from cleann.baselines.inputs import rec_input, text_input
from cleann.baselines.registry import parse_explainers, run_baselines
from cleann.errors import BadInputError
from cleann.metrics.per_sample import evaluate_ranking
from cleann.metrics.testers import RecOracle
from cleann.models.testers import RecTester

from evalkit import infer_one, recommend_one

TEXT = "this movie was really fun but the plot is dull ."


def test_text_baselines_score_every_position(random_classifier):
    model, tok = random_classifier
    inf = infer_one(random_classifier, TEXT)
    mi = text_input(model, tok, inf, "pad")
    names = ("attention", "attention_heads", "rollout", "gxi", "ig", "shap")
    attrs = run_baselines(mi, names, tokenizer=tok, text=TEXT, n_steps=8, ig_batch_size=4,
                          shap_max_evals=40)
    L, H = len(inf.token_ids), inf.attention.shape[0]
    assert [a.explainer for a in attrs] == (["attention"] + [f"attention_h{h}" for h in range(H)]
                                            + ["rollout", "gxi", "ig", "shap"])
    for a in attrs:
        assert a.scores.shape == (L,) and np.isfinite(a.scores).all()
        assert a.candidates == tuple(range(1, L - 1))  # [CLS] and [SEP] are never removed
        assert sorted(a.ranking()) == list(a.candidates)
    cost = {a.explainer: a for a in attrs}
    assert cost["attention"].forward_passes == 0
    assert cost["rollout"].forward_passes == 1 and cost["rollout"].backward_passes == 0
    assert cost["gxi"].forward_passes == 1 and cost["gxi"].backward_passes == 1
    assert cost["ig"].backward_passes == 8 and cost["ig"].forward_passes >= 8
    assert cost["shap"].forward_passes > 1 and cost["shap"].backward_passes == 0


def test_attention_baseline_is_the_target_row(random_classifier):
    model, tok = random_classifier
    inf = infer_one(random_classifier, TEXT)
    (mean,) = run_baselines(text_input(model, tok, inf), ["attention"])
    np.testing.assert_allclose(mean.scores, inf.attention[:, 0, :].mean(axis=0), rtol=1e-6)


def test_rollout_known_values():
    # two layers, one head, 2 tokens: A1 = identity, A2 = all attention on token 1
    a1 = np.eye(2)[None]
    a2 = np.array([[[0.0, 1.0], [0.0, 1.0]]])
    out = attention_rollout(np.stack([a1, a2]), residual=0.5)
    # layer mix: M1 = I, M2 = [[.5, .5], [0, 1]] -> rollout = M2 @ M1
    np.testing.assert_allclose(out, [[0.5, 0.5], [0.0, 1.0]], atol=1e-6)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-6)


def test_rec_baselines_and_oracle(tiny_rec):
    history = [3, 17, 5, 22, 9, 31, 14]
    inf = recommend_one(tiny_rec, history)
    mi = rec_input(tiny_rec, inf)
    attrs = run_baselines(mi, ("attention", "rollout", "gxi", "ig"), n_steps=6)
    for a in attrs:
        assert a.candidates == tuple(range(len(history)))
        assert a.scores.shape[0] == len(history) + 1  # history + [MASK]/target position
    tester = RecTester(tiny_rec, inf)
    oracle = RecOracle(tester)
    sets = [(i,) for i in range(len(history))] + [(0, 1), (2, 3, 4), tuple(range(6))]
    out = oracle(sets)
    assert out.changed.tolist() == tester(sets)
    for s, changed, rank in zip(sets, out.changed, out.replacement_rank):
        if changed:
            detail = tester.accepted[s]
            assert (detail.rank_in_original_topk or 0) == rank
        else:
            assert np.isnan(rank)
    metrics = evaluate_ranking(attrs[-1], oracle)
    assert metrics["n_candidates"] == len(history)
    if metrics["found"]:
        assert 1 <= metrics["size"] <= len(history)


def test_parse_explainers():
    assert parse_explainers("cleann, IG,ig") == ("cleann", "ig")
    assert parse_explainers(None)[0] == "cleann"
    with pytest.raises(BadInputError, match="lime"):
        parse_explainers("cleann,lime")
    with pytest.raises(BadInputError, match="text only"):
        parse_explainers("shap", kind="movielens")
