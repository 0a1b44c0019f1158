"""Metric arithmetic on hand-made numbers with known answers."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cleann.metrics.faithfulness import aopc, bin_sizes, comprehensiveness, sufficiency
from cleann.metrics.flip import explanation_size, first_flip, prefixes
from cleann.metrics.recommendation import replacement_rank
from cleann.metrics.summary import success_rate, summarize


def test_comprehensiveness_and_sufficiency_are_drops_in_probability():
    assert comprehensiveness(0.9, 0.2) == pytest.approx(0.7)
    assert sufficiency(0.9, 0.95) == pytest.approx(-0.05)
    np.testing.assert_allclose(comprehensiveness(0.8, np.array([0.8, 0.1])), [0.0, 0.7])


def test_bin_sizes_follow_eraser_percentages():
    assert bin_sizes(200) == [2, 10, 20, 40, 100]
    assert bin_sizes(7) == [1, 1, 1, 2, 4]  # ceil, at least one token
    assert bin_sizes(1) == [1, 1, 1, 1, 1]
    assert bin_sizes(0) == [0, 0, 0, 0, 0]


def test_aopc_is_the_mean_over_bins():
    assert aopc([0.1, 0.2, 0.3, 0.4, 0.5]) == pytest.approx(0.3)
    assert math.isnan(aopc([]))


def test_first_flip_and_prefixes():
    assert first_flip([False, False, True, True]) == 3
    assert first_flip([False, True], start=5) == 6
    assert first_flip([False, False]) is None
    assert prefixes([7, 3, 5], 1, 4) == [(7,), (3, 7), (3, 5, 7)]
    assert explanation_size([4, 2, 4]) == 2 and explanation_size(None) is None


def test_replacement_rank_is_one_based_in_original_topk():
    assert replacement_rank(42, [10, 42, 7]) == 2
    assert replacement_rank(10, [10, 42, 7]) == 1
    assert replacement_rank(99, [10, 42, 7]) is None


def test_summary_aggregates_per_explainer():
    rows = [("s1", "cleann", "found", 1), ("s1", "cleann", "size", 2),
            ("s2", "cleann", "found", 0), ("s1", "ig", "found", 1), ("s1", "ig", "size", 5),
            ("s2", "ig", "found", 1), ("s2", "ig", "size", 3), ("s1", "ig", "seconds", 2.0),
            ("s2", "ig", "seconds", 4.0)]
    df = pd.DataFrame(rows, columns=["sample_id", "explainer", "metric", "value"])
    out = summarize(df).set_index("explainer")
    assert out.loc["cleann", "success_rate"] == 0.5
    assert out.loc["cleann", "median_size"] == 2
    assert out.loc["ig", "median_size"] == 4
    assert out.loc["ig", "seconds"] == 3.0
    assert success_rate(np.array([1, 1, 0, 1])) == 0.75


def test_paired_sizes_compare_on_shared_samples_only():
    from cleann.metrics.summary import paired_sizes

    rows = [("a", "cleann", "size", 1), ("a", "ig", "size", 3), ("b", "cleann", "size", 2),
            ("b", "ig", "size", 2), ("c", "ig", "size", 1), ("d", "cleann", "size", 4),
            ("d", "ig", "size", 2)]
    df = pd.DataFrame(rows, columns=["sample_id", "explainer", "metric", "value"])
    out = paired_sizes(df).set_index("explainer").loc["ig"]
    assert out["n_both"] == 3  # sample c has no CLEANN set
    assert (out["cleann_smaller"], out["equal"], out["cleann_larger"]) == (1, 1, 1)
    assert out["cleann_median"] == 2 and out["baseline_median"] == 2


def test_summary_measures_the_distance_from_the_oracle():
    rows = [("a", "oracle", "found", 1), ("a", "oracle", "size", 1), ("b", "oracle", "found", 1),
            ("b", "oracle", "size", 2), ("a", "ig", "found", 1), ("a", "ig", "size", 3),
            ("b", "ig", "found", 0), ("a", "cleann", "found", 1), ("a", "cleann", "size", 1),
            ("b", "cleann", "found", 1), ("b", "cleann", "size", 2)]
    df = pd.DataFrame(rows, columns=["sample_id", "explainer", "metric", "value"])
    out = summarize(df).set_index("explainer")
    assert list(out.index) == ["cleann", "oracle", "ig"]
    assert out.loc["ig", "found_vs_oracle"] == 0.5 and out.loc["ig", "extra_size"] == 2.0
    assert out.loc["cleann", "found_vs_oracle"] == 1.0 and out.loc["cleann", "extra_size"] == 0.0
    assert out.loc["oracle", "mean_size"] == 1.5
    assert "found_vs_oracle" not in summarize(df[df["explainer"] != "oracle"])
