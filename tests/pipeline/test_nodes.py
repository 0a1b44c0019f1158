"""Node selection, word merging and head choice (pure numpy)."""
import numpy as np
import pytest

from cleann.errors import BadInputError
from cleann.pipeline.nodes import MEAN_HEAD, head_matrices, merge_attention, plan_nodes, word_groups


def _attn(n, seed=0):
    a = np.random.default_rng(seed).random((n, n)).astype(np.float32)
    return a / a.sum(axis=1, keepdims=True)


def test_word_groups_keeps_specials_alone_and_joins_pieces():
    assert word_groups([None, 0, 0, 1, 2, 2, 2, None]) == ((0,), (1, 2), (3,), (4, 5, 6), (7,))


def test_merge_sums_columns_and_averages_rows():
    a = _attn(5)
    groups = ((0,), (1, 2), (3, 4))
    m = merge_attention(a, groups)
    assert m.shape == (3, 3)
    np.testing.assert_allclose(m.sum(axis=1), 1.0, rtol=1e-5)  # rows stay distributions
    expected_12 = (a[1, 3] + a[1, 4] + a[2, 3] + a[2, 4]) / 2
    np.testing.assert_allclose(m[1, 2], expected_12, rtol=1e-5)


def test_words_plan_maps_node_sets_back_to_all_pieces():
    a = _attn(6)
    plan = plan_nodes(a, 0, "words", [None, 0, 0, 1, 1, None])
    assert plan.attention.shape == (4, 4) and plan.target == 0 and plan.nodes is None
    assert plan.to_positions((2, 1)) == (1, 2, 3, 4)
    assert plan.representative(2) == 3


def test_topk_keeps_target_and_most_attended():
    a = np.full((6, 6), 0.01, dtype=np.float32)
    a[0, [4, 2]] = [0.5, 0.3]
    a[0, 0] = 0.9  # the target's self-attention never counts
    plan = plan_nodes(a, 0, "topk:2")
    assert plan.nodes == (0, 2, 4)
    assert plan_nodes(a, 0, "topk:10").nodes is None  # k covers everything: all nodes


def test_heads_all_list_and_mean():
    att = np.stack([_attn(4, s) for s in range(3)])
    assert [h for h, _ in head_matrices(att, "all")] == [0, 1, 2]
    assert [h for h, _ in head_matrices(att, "2,0")] == [0, 2]
    ((h, m),) = head_matrices(att, "mean")
    assert h == MEAN_HEAD
    np.testing.assert_allclose(m, att.mean(axis=0))
    with pytest.raises(BadInputError, match="head 5"):
        head_matrices(att, "5")


@pytest.mark.parametrize("spec", ["topk:0", "top", "words2", ""])
def test_bad_node_specs_are_user_errors(spec):
    with pytest.raises(BadInputError):
        plan_nodes(_attn(3), 0, spec)
