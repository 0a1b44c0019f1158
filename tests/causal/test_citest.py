"""Fisher-z CI test: FORMAT §6 semantics, cache accounting, singular and batch paths."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import norm

from cleann.causal.citest import FisherZTest, attention_to_correlation, fisher_pvalues
from cleann.errors import BadInputError
from conftest import GOLDEN_DIR


def _corr(seed: int, n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, n))
    att = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return attention_to_correlation(att)


def _reference_p(r: float, k: int, n: int) -> float:
    """The reference's own formula, 2 * (1 - Phi(stat))."""
    stat = abs(math.sqrt(n - k - 3) * 0.5 * math.log1p(2 * r / (1 - r)))
    return 2 * (1 - norm.cdf(stat))


def test_correlation_matches_reference_formula():
    att = np.random.default_rng(0).random((5, 5))
    cov = att @ att.T
    s = 1 / np.sqrt(np.diag(cov))
    expected = (cov * s[None, :]) * s[:, None]
    assert np.array_equal(attention_to_correlation(att), expected)
    assert np.allclose(np.diag(expected), 1.0)


def test_zero_row_is_a_clear_error():
    att = np.eye(4)
    att[2] = 0.0
    with pytest.raises(BadInputError, match=r"rows \[2\]"):
        attention_to_correlation(att)


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_partial_correlation_and_pvalue_match_direct_formulas(k):
    R = _corr(1)
    t = FisherZTest(R, 384, 0.01)
    x, y, z = 0, 1, tuple(range(2, 2 + k))
    if k == 0:
        r = R[x, y]
    elif k == 1:
        r = (R[0, 1] - R[0, 2] * R[1, 2]) / math.sqrt((1 - R[0, 2] ** 2) * (1 - R[1, 2] ** 2))
    else:
        idx = (x, y) + z
        P = np.linalg.inv(R[np.ix_(idx, idx)])
        r = -P[0, 1] / math.sqrt(abs(P[0, 0] * P[1, 1]))
    assert t.partial_correlation(x, y, z) == pytest.approx(r, rel=1e-12, abs=1e-14)
    if k >= 2:  # the solve-based path reproduces np.linalg.inv bit for bit
        assert t.partial_correlation(x, y, z) == r
    assert t.pvalue(x, y, z) == pytest.approx(_reference_p(r, k, 384), rel=1e-9, abs=1e-15)


def test_pvalue_underflow_vs_reference_is_decision_neutral():
    # Where the reference's 1 - Phi rounds to 0, erfc is still positive but tiny.
    r = np.array([0.9, 0.5, 0.3])
    ours = fisher_pvalues(r, 0, 768, legacy=False)
    ref = np.array([_reference_p(v, 0, 768) for v in r])
    for p_ours, p_ref in zip(ours, ref):
        if p_ref == 0.0:
            assert p_ours < 1e-15
        else:
            assert p_ours == pytest.approx(p_ref, rel=1e-6)


def test_early_exits_and_rules():
    R = np.eye(4)
    R[0, 1] = R[1, 0] = 1.0  # perfectly correlated
    R[2, 3] = R[3, 2] = -0.5
    t = FisherZTest(R, 100, 0.05)
    assert t.pvalue(0, 1) == 0.0
    assert t.pvalue(2, 3, (0,)) < 1e-6
    assert t.pvalue(2, 0, (1,)) == 0.0  # R[y, z] >= 1 early exit
    legacy = FisherZTest(R, 100, 0.05, legacy_negative_pcorr=True)
    assert legacy.pvalue(2, 3) == math.inf and legacy.independent(2, 3)
    assert not t.independent(2, 3)


def test_strict_threshold():
    R = np.eye(3)
    t = FisherZTest(R, 50, 1.0 - 1e-12)
    assert t.pvalue(0, 1) == 1.0 and t.independent(0, 1)
    R2 = np.array([[1.0, 0.3], [0.3, 1.0]])
    p = FisherZTest(R2, 50, 0.01).pvalue(0, 1)
    assert not FisherZTest(R2, 50, p).independent(0, 1)


def test_cache_counts_misses_by_size():
    t = FisherZTest(_corr(2), 384, 0.01)
    t.independent(0, 1, (2, 3))
    t.independent(1, 0, (3, 2))  # same unordered pair, same sorted set: a hit
    t.independent(0, 1, ())
    t.independent(0, 2, (4,))
    assert t.n_tests == 3
    assert t.n_tests_by_size == [1, 1, 1]


def test_singular_submatrix_never_crashes():
    R = np.eye(4)
    R[2, 3] = R[3, 2] = 1.0  # z1 == z2: exactly singular submatrix
    R[0, 2] = R[2, 0] = R[0, 3] = R[3, 0] = 0.4
    t = FisherZTest(R, 100, 0.05)
    p = t.pvalue(0, 1, (2, 3))
    assert t.n_singular == 1
    # pinv treats the duplicated conditioning variable once: x, y stay independent
    assert p == pytest.approx(t.pvalue(0, 1, (2,)), rel=1e-9)


def test_batch_paths_agree_with_single_tests():
    R = _corr(3, 8)
    t = FisherZTest(R, 384, 0.2)
    single = FisherZTest(R, 384, 0.2)
    zz = np.array([[2, 3], [2, 4], [5, 6], [3, 7]])
    p = t.batch_pvalues(np.zeros(4, int), np.ones(4, int), zz)
    assert np.allclose(p, [single.pvalue(0, 1, tuple(z)) for z in zz], rtol=1e-12)
    first = t.first_independent_rows(0, 1, zz)
    decisions = [single.independent(0, 1, tuple(z)) for z in zz]
    assert first == (decisions.index(True) if True in decisions else -1)
    many = t.independent_many([0, 1, 2], [3, 4, 5], np.array([[6], [7], [0]]))
    assert many.tolist() == [single.independent(0, 3, (6,)), single.independent(1, 4, (7,)),
                             single.independent(2, 5, (0,))]


def test_golden_case_pvalues_keep_their_side_of_alpha():
    case = json.loads((GOLDEN_DIR / "case_000.json").read_text())
    R = attention_to_correlation(np.array(case["attention"]))
    assert np.all((R >= 0) & (R <= 1 + 1e-12))
    t = FisherZTest(R, case["num_samples"], case["alpha"])
    nodes = case["nodes"]
    for i, j, sep in case["sepsets"]:
        assert t.independent(i, j, tuple(sep)), (i, j, sep)
    for i, j, *_ in case["pag"]["edges"]:
        assert not t.independent(i, j, ())
    assert set(nodes) >= {i for i, *_ in case["pag"]["edges"]}
