"""ICD behaviour beyond the golden cases: fast paths equal the plain one-test-at-a-time
path, the conditioning-size cap, the FORMAT §3 example, and degenerate inputs."""
from __future__ import annotations

import numpy as np
import pytest

from cleann.causal.citest import FisherZTest, attention_to_correlation
from cleann.causal.icd import learn_icd
from cleann.errors import BadInputError


class PlainTest:
    """Only ``independent``: forces ICD's generic path (one call per candidate)."""

    def __init__(self, inner: FisherZTest):
        self.inner = inner

    def independent(self, x, y, cond):
        return self.inner.independent(x, y, cond)


def _attention(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = (1.5 + seed % 3) * rng.standard_normal((n, n))
    logits[:, 0] += 3.0
    w = np.exp(logits - logits.max(axis=1, keepdims=True))
    return w / w.sum(axis=1, keepdims=True)


@pytest.mark.parametrize(
    ("n", "samples", "alpha", "legacy", "seed"),
    [(12, 384, 0.01, False, 0), (16, 768, 0.05, False, 1), (20, 384, 0.01, True, 2),
     (25, 768, 0.01, False, 3), (30, 64, 0.05, True, 4), (40, 384, 0.01, False, 5)],
)
def test_fast_paths_equal_generic_path(n, samples, alpha, legacy, seed):
    corr = attention_to_correlation(_attention(n, seed))
    nodes = range(1, n - 1) if seed % 2 else range(n)
    fast_test = FisherZTest(corr, samples, alpha, legacy)
    plain_inner = FisherZTest(corr, samples, alpha, legacy)
    fast = learn_icd(nodes, fast_test)
    plain = learn_icd(nodes, PlainTest(plain_inner))
    assert fast.pag.edges() == plain.pag.edges()
    assert fast.sepsets == plain.sepsets
    assert fast.ci_tests_by_size == plain.ci_tests_by_size == plain_inner.n_tests_by_size
    assert fast.ci_tests == plain.ci_tests == plain_inner.n_tests
    assert fast.iterations == plain.iterations


def test_cap_on_conditioning_set_size():
    corr = attention_to_correlation(_attention(30, 7))
    full = learn_icd(range(30), FisherZTest(corr, 768, 0.01))
    assert len(full.ci_tests_by_size) > 2  # the cap below really cuts something
    cap0 = learn_icd(range(30), FisherZTest(corr, 768, 0.01), max_cond_size=0)
    cap1 = learn_icd(range(30), FisherZTest(corr, 768, 0.01), max_cond_size=1)
    assert cap0.ci_tests_by_size == [435] and cap0.iterations == 1
    assert len(cap1.ci_tests_by_size) == 2 and cap1.iterations == 2
    assert all(len(s) <= 1 for s in cap1.sepsets.values())
    big = learn_icd(range(30), FisherZTest(corr, 768, 0.01), max_cond_size=29)
    assert big.pag.edges() == full.pag.edges()
    # a cap only removes deletions: the skeleton can only be denser
    edges = lambda res: {(i, j) for i, j, *_ in res.pag.edges()}  # noqa: E731
    assert edges(full) <= edges(cap1) <= edges(cap0)
    with pytest.raises(BadInputError):
        learn_icd(range(5), FisherZTest(corr, 768, 0.01), max_cond_size=-1)


def test_collider_example_from_format():
    """X=0 and Y=1 independent, Z=2=X+Y+noise, W=3=Z+noise (FORMAT §3):
    0 o-> 2 <-o 1 and 2 --> 3."""
    cov = np.zeros((4, 4))
    # population covariance: X, Y ~ N(0,1); Z = X + Y + e (var 1); W = Z + e' (var 1)
    b = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=float)
    cov = b @ b.T
    s = 1 / np.sqrt(np.diag(cov))
    corr = cov * s[:, None] * s[None, :]
    result = learn_icd(range(4), FisherZTest(corr, 1000, 0.01))
    assert result.pag.edges() == [(0, 2, "o", ">"), (1, 2, "o", ">"), (2, 3, "-", ">")]
    assert result.sepsets == {(0, 1): (), (0, 3): (2,), (1, 3): (2,)}


def test_degenerate_inputs():
    corr = np.eye(3)
    assert learn_icd([], FisherZTest(corr, 100, 0.05)).pag.edges() == []
    one = learn_icd([1], FisherZTest(corr, 100, 0.05))
    assert one.pag.edges() == [] and one.ci_tests == 0
    two = learn_icd([0, 2], FisherZTest(corr, 100, 0.05))
    assert two.pag.edges() == [] and two.sepsets == {(0, 2): ()}
    with pytest.raises(BadInputError):
        learn_icd([0, 1], object())
