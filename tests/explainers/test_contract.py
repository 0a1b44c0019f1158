"""Every registered explainer honours the contract: Sample in, Explanation out, cost measured
by the base class and model rows counted, for text and recommendation."""
from __future__ import annotations

import numpy as np
import pytest

from cleann.errors import BadInputError
from cleann.explainers import REGISTRY, explainer_names, get_explainer
from cleann.explainers.attention import attention_rollout

from explainkit import rec_sample, text_sample

TEXT = "this movie was really fun but the plot is dull ."
OPTIONS = {"ig": {"n_steps": 8, "internal_batch_size": 4}, "shap": {"max_evals": 40},
           "oracle": {"max_set_size": 2}}
BASELINES = ("attention", "rollout", "gxi", "ig", "shap", "oracle")


def _explain(name, sample):
    return get_explainer(name, **OPTIONS.get(name, {})).explain(sample)


def test_registry_names_the_baselines_and_the_oracle():
    assert set(BASELINES) <= set(REGISTRY)
    assert "shap" in explainer_names("text") and "shap" not in explainer_names("rec")
    with pytest.raises(BadInputError, match="lime"):
        get_explainer("lime")


@pytest.mark.parametrize("name", BASELINES)
def test_text_explainer_contract(text_backend, name):
    sample = text_sample(text_backend, TEXT)
    L = len(sample.view.token_ids)
    exp = _explain(name, sample)
    assert exp.explainer == name
    assert exp.candidates == tuple(range(1, L - 1))  # [CLS] and [SEP] are never removed
    c = exp.cost
    assert c.seconds > 0 and c.seconds >= c.graph_seconds + c.search_seconds + c.model_seconds
    if exp.is_ranking:
        assert exp.scores.shape == (L,) and np.isfinite(exp.scores).all()
        assert sorted(exp.ranking()) == list(exp.candidates)
    rows = {"attention": (0, 0), "rollout": (1, 0), "gxi": (1, 1)}
    if name in rows:
        assert (c.forward_rows, c.backward_rows) == rows[name]
    elif name == "ig":
        assert c.backward_rows == 8 and c.forward_rows >= 8
    elif name == "shap":
        assert c.forward_rows > 1 and c.backward_rows == 0
    else:  # the oracle: every row went through the tester; sizes 1 and 2 hold L-2 + C(L-2, 2) sets
        n = L - 2
        assert 1 <= c.forward_rows <= n + n * (n - 1) // 2 and c.backward_rows == 0
        assert c.model_seconds > 0


def test_attention_is_the_target_row(text_backend):
    sample = text_sample(text_backend, TEXT)
    exp = _explain("attention", sample)
    np.testing.assert_allclose(exp.scores, sample.view.attention[:, 0, :].mean(axis=0), rtol=1e-6)


def test_rollout_known_values():
    # two layers, one head, 2 tokens: A1 = identity, A2 = all attention on token 1
    a1 = np.eye(2)[None]
    a2 = np.array([[[0.0, 1.0], [0.0, 1.0]]])
    out = attention_rollout(np.stack([a1, a2]), residual=0.5)
    # layer mix: M1 = I, M2 = [[.5, .5], [0, 1]] -> rollout = M2 @ M1
    np.testing.assert_allclose(out, [[0.5, 0.5], [0.0, 1.0]], atol=1e-6)


@pytest.mark.parametrize("name", [n for n in BASELINES if n != "shap"])
def test_rec_explainer_contract(rec_backend, name):
    history = [3, 17, 5, 22, 9, 31, 14]
    exp = _explain(name, rec_sample(rec_backend, history))
    assert exp.candidates == tuple(range(len(history)))  # the appended target is never removed
    assert exp.cost.seconds > 0
    if exp.is_ranking:
        assert exp.scores.shape[0] >= len(history) + 1 and np.isfinite(exp.scores).all()


def test_shap_refuses_recommendation(rec_backend):
    with pytest.raises(ValueError, match="text"):
        _explain("shap", rec_sample(rec_backend, [3, 17, 5, 22]))
