"""Property tests: the CI test against an independent formula, and ICD with a perfect
m-separation oracle recovering the true MAG skeleton."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from cleann.causal.citest import FisherZTest
from cleann.causal.icd import learn_icd
from oracle import DSepOracle, mag_adjacencies, random_dag


def _random_corr(rng: np.random.Generator, n: int) -> np.ndarray:
    b = rng.standard_normal((n, n + 2))
    cov = b @ b.T + 0.1 * np.eye(n)
    s = 1 / np.sqrt(np.diag(cov))
    return cov * s[:, None] * s[None, :]


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 8), k=st.integers(0, 5))
def test_partial_correlation_equals_schur_complement(seed, n, k):
    rng = np.random.default_rng(seed)
    R = _random_corr(rng, n)
    k = min(k, n - 2)
    x, y, *z = rng.permutation(n)[: k + 2].tolist()
    # independent route: the conditional covariance of (x, y) given Z (Schur complement)
    a, zz = [x, y], z
    cond = R[np.ix_(a, a)] - (R[np.ix_(a, zz)] @ np.linalg.solve(R[np.ix_(zz, zz)], R[np.ix_(zz, a)]) if zz else 0)
    expected = cond[0, 1] / math.sqrt(cond[0, 0] * cond[1, 1])
    t = FisherZTest(R, 500, 0.05)
    r = t.partial_correlation(x, y, tuple(z))
    assert math.isclose(r, expected, rel_tol=1e-8, abs_tol=1e-10)
    p_ref = 2 * (1 - norm.cdf(abs(math.sqrt(500 - k - 3) * math.atanh(r))))
    p = t.pvalue(x, y, tuple(z))
    assert math.isclose(p, p_ref, rel_tol=1e-6, abs_tol=1e-15)
    assert t.independent(x, y, tuple(z)) == (p > 0.05)
    assert t.n_singular == 0


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_obs=st.integers(3, 7),
    n_lat=st.integers(0, 3),
    edge_prob=st.floats(0.15, 0.6),
)
def test_icd_with_oracle_recovers_mag_skeleton(seed, n_obs, n_lat, edge_prob):
    rng = np.random.default_rng(seed)
    dag = random_dag(n_obs + n_lat, edge_prob, rng)
    oracle = DSepOracle(dag, n_obs)
    result = learn_icd(range(n_obs), oracle)
    learned = {(i, j) for i, j, *_ in result.pag.edges()}
    assert learned == mag_adjacencies(oracle)
    for (i, j), sep in result.sepsets.items():
        assert oracle.independent(i, j, sep)
