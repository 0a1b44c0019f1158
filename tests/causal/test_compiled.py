"""The compiled ICD (numba kernels, the default) equals the pure path exactly: PAG edges
and marks, sepsets, CI-test counts per size and iterations -- on every golden case, on
random attention (hypothesis), with every test forced through the 'unsure' override
path, and kernel by kernel (PDS trees, legal subsets, R0, R1-R4)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleann.causal import _kernels as K
from cleann.causal import icd_compiled
from cleann.causal import orientation as ori
from cleann.causal.citest import FisherZTest, attention_to_correlation, fisher_pvalues
from cleann.causal.icd import learn_icd
from cleann.causal.icd_candidates import legal_subsets_within
from cleann.causal.orientation import orient_fixpoint, orient_v_structures
from cleann.causal.pag import PAG
from cleann.causal.pds_tree import build_pds_tree
from conftest import GOLDEN_DIR

CASE_FILES = sorted(GOLDEN_DIR.glob("case_*.json"))


def _attention(n: int, seed: int, scale: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = scale * rng.standard_normal((n, n))
    logits[:, 0] += 3.0
    w = np.exp(logits - logits.max(axis=1, keepdims=True))
    return w / w.sum(axis=1, keepdims=True)


def _both(corr, nodes, samples, alpha, legacy, max_cond_size=None):
    pure_ci = FisherZTest(corr, samples, alpha, legacy)
    comp_ci = FisherZTest(corr, samples, alpha, legacy)
    pure = learn_icd(nodes, pure_ci, max_cond_size=max_cond_size, compiled=False)
    comp = learn_icd(nodes, comp_ci, max_cond_size=max_cond_size, compiled=True)
    return pure, comp, pure_ci, comp_ci


def _assert_same(pure, comp):
    assert comp.pag.edges() == pure.pag.edges()
    assert comp.sepsets == pure.sepsets
    assert list(comp.sepsets) == list(pure.sepsets)  # same deletion order
    assert comp.ci_tests == pure.ci_tests
    assert comp.ci_tests_by_size == pure.ci_tests_by_size
    assert comp.iterations == pure.iterations


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_golden_case_compiled_equals_pure(path):
    case = json.loads(path.read_text())
    corr = attention_to_correlation(np.array(case["attention"]))
    pure, comp, _, comp_ci = _both(corr, case["nodes"], case["num_samples"], case["alpha"],
                                   case["legacy_negative_pcorr"])
    _assert_same(pure, comp)
    assert comp_ci.n_computed == comp_ci.n_tests  # the kernels test exactly what they count


def test_golden_cases_present():
    assert len(CASE_FILES) >= 45


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 28), samples=st.sampled_from([16, 64, 384, 768]),
       alpha=st.sampled_from([0.001, 0.01, 0.05, 0.2]), legacy=st.booleans(), subset=st.booleans(),
       scale=st.sampled_from([0.5, 2.0, 4.0]))
def test_random_attention_compiled_equals_pure(seed, n, samples, alpha, legacy, subset, scale):
    corr = attention_to_correlation(_attention(n, seed % 10_000, scale))
    nodes = [v for v in range(n) if not subset or (v * 7 + seed) % 3] or [0]
    pure, comp, _, _ = _both(corr, nodes, samples, alpha, legacy)
    _assert_same(pure, comp)


@pytest.mark.parametrize("cap", [0, 1, 2, 3])
def test_conditioning_cap_compiled_equals_pure(cap):
    corr = attention_to_correlation(_attention(26, 11))
    pure, comp, _, _ = _both(corr, range(26), 768, 0.01, False, max_cond_size=cap)
    _assert_same(pure, comp)


def test_deep_iterations_reached_and_equal():
    """A case that reaches r >= 3 (tree candidates compiled) and agrees."""
    corr = attention_to_correlation(_attention(20, 2, 1.0))
    pure, comp, _, _ = _both(corr, range(20), 384, 0.01, False)
    assert len(pure.ci_tests_by_size) >= 6
    _assert_same(pure, comp)


@pytest.mark.parametrize("limit", [None, 126])
def test_wide_graph_and_python_tree_fallback_agree(monkeypatch, limit):
    """Positions 115-139 (several dedup words); with a lower limit the r >= 3 candidates
    run in Python (the path for graphs over MAX_TREE_SIZE positions): both equal."""
    if limit is not None:
        monkeypatch.setattr(K, "MAX_TREE_SIZE", limit)
    corr = attention_to_correlation(_attention(140, 1, 1.0))
    nodes = list(range(115, 140))
    pure, comp, _, _ = _both(corr, nodes, 384, 0.01, False)
    assert len(pure.ci_tests_by_size) >= 4
    _assert_same(pure, comp)


def test_every_test_unsure_goes_through_pure_pvalues(monkeypatch):
    """With an all-unsure band every decision is the pure p-value's (abort, resolve,
    re-run): the result must still be identical, and overrides must have happened."""
    seen = []
    orig = icd_compiled._State.resolve

    def spy(self):
        seen.append(tuple(self.unsure[:3]))
        orig(self)

    monkeypatch.setattr(icd_compiled, "_bounds", lambda N, a, leg, k: np.tile([-1.0, 2.0], (k + 1, 1)))
    monkeypatch.setattr(icd_compiled._State, "resolve", spy)
    corr = attention_to_correlation(_attention(9, 3))
    pure, comp, _, _ = _both(corr, range(9), 64, 0.05, True)
    _assert_same(pure, comp)
    # every test but those decided without the band (|r| >= 1; legacy r <= 0) is resolved
    assert len(seen) >= comp.ci_tests // 2


@given(r=st.floats(-1.0, 1.0), k=st.integers(0, 4), samples=st.sampled_from([8, 64, 384]),
       alpha=st.sampled_from([0.0, 0.01, 0.05, 0.5]), legacy=st.booleans())
@settings(max_examples=300, deadline=None)
def test_decision_rule_matches_pure_pvalue_outside_band(r, k, samples, alpha, legacy):
    bounds = icd_compiled._bounds(samples, alpha, legacy, 4)
    d = K._decide(r, bounds[k, 0], bounds[k, 1], legacy)
    want = bool(fisher_pvalues(np.array([r]), k, samples, legacy)[0] > alpha)
    if d != K.UNSURE:
        assert d == (K.INDEP if want else K.DEP)


def test_band_brackets_threshold():
    b = icd_compiled._bounds(384, 0.01, False, 3)
    for k in range(4):
        p = fisher_pvalues(np.array([b[k, 0], b[k, 1]]), k, 384, False)
        assert p[0] > 0.01 > p[1]
        assert 0 < b[k, 1] - b[k, 0] < 3 * K.BAND


def test_partial_correlation_kernel_matches_numpy():
    rng = np.random.default_rng(0)
    corr = attention_to_correlation(_attention(12, 2))
    ci = FisherZTest(corr, 384, 0.01)
    A = np.empty((8, 10))
    for _ in range(200):
        k = int(rng.integers(2, 6))
        x, y, *zs = rng.choice(12, k + 2, replace=False).tolist()
        zs = np.array(sorted(zs), dtype=np.int64)
        got = K._pcorr_lu(corr, x, y, zs, k, A)
        want = ci.partial_correlation(x, y, zs.tolist())
        assert np.isnan(got) or abs(got - want) < 1e-10


def _random_pag(n: int, seed: int, density: float = 0.35) -> PAG:
    rng = np.random.default_rng(seed)
    pag = PAG(range(n), complete=False)
    for i in range(n):
        for j in range(i + 1, n):
            if rng.random() < density:
                pag.marks[i, j] = rng.integers(1, 4)
                pag.marks[j, i] = rng.integers(1, 4)
    return pag


@pytest.mark.parametrize("seed", range(12))
def test_pds_tree_and_legal_sets_kernels(seed):
    pag = _random_pag(14, seed)
    rng = np.random.default_rng(seed)
    cap = 2 * 14 * 14 + 2
    node, depth, parent = (np.empty(cap, np.int64) for _ in range(3))
    skel = np.zeros((14, 14), bool)
    for root in range(0, 14, 3):
        for max_depth in (1, 3, 5):
            tree = build_pds_tree(pag, root, max_depth)
            n = K.pds_tree(pag.marks, root, max_depth, node, depth, parent, skel)
            want = tree.occurrence_arrays()
            assert node[:n].tolist() == want[0].tolist()
            assert depth[:n].tolist() == want[1].tolist()
            assert parent[:n].tolist() == want[2].tolist()
            for k in (2, 3, 4):
                allowed = rng.random(14) < 0.8
                sets, dist, ok = K._legal_sets(node, depth, parent, n, allowed, k, 14)
                assert ok
                want_sets, want_dist = legal_subsets_within(tree, k, allowed)
                assert sets.tolist() == want_sets.tolist()
                assert dist.tolist() == want_dist.tolist()


@pytest.mark.parametrize("seed", range(20))
def test_orientation_kernels_equal_python(seed):
    pag = _random_pag(12, 100 + seed, density=0.45)
    rng = np.random.default_rng(seed)
    nodes = np.arange(12)
    sepsets = {}
    for i in range(12):
        for j in range(i + 1, 12):
            if not pag.marks[i, j]:
                sepsets[(i, j)] = tuple(sorted(rng.choice([v for v in range(12) if v not in (i, j)],
                                                          int(rng.integers(0, 3)), replace=False).tolist()))
    sep_len = np.zeros((12, 12), np.int64)
    sep_buf = np.zeros((12, 12, 2), np.int64)
    for (i, j), s in sepsets.items():
        sep_len[i, j] = sep_len[j, i] = len(s)
        sep_buf[i, j, :len(s)] = s
        sep_buf[j, i, :len(s)] = s
    pag.reset_marks()
    want = pag.marks.copy()
    orient_v_structures(want, nodes, sepsets)
    got = pag.marks.copy()
    K.v_structures(got, nodes.astype(np.int64), sep_len, sep_buf)
    assert (got == want).all()
    mixed = _random_pag(12, 200 + seed, density=0.45).marks  # arbitrary marks, not only R0 output
    for start in (want, mixed):
        w, g = start.copy(), start.copy()
        passes = orient_fixpoint(w, nodes, sepsets, (1, 2, 3, 4))
        assert K.orient_r1_r4(g, nodes.astype(np.int64), sep_len, sep_buf) == passes
        assert (g == w).all()


@pytest.mark.parametrize("seed", range(30))
def test_r5_to_r10_kernel_equals_python(seed):
    """Random marks (circles, arrows, tails; dense enough for uncovered paths)."""
    rng = np.random.default_rng(seed)
    pag = _random_pag(13, 300 + seed, density=0.3)
    if seed % 2:  # mostly circles: R5's circle paths
        pag.marks[pag.marks != 0] = np.where(rng.random(int((pag.marks != 0).sum())) < 0.8, 1, 3)
    nodes = np.arange(13)
    limits = np.array([ori.MAX_PATH_STEPS, ori._PRUNE_AFTER], np.int64)
    for batch in ((5, 6, 7), (8, 9, 10)):
        w, g = pag.marks.copy(), pag.marks.copy()
        passes = orient_fixpoint(w, nodes, {}, batch)
        got, status = K.orient_r5_r10(g, nodes.astype(np.int64), batch[0], np.zeros(4, np.int64), limits)
        assert status == K.OK and got == passes
        assert (g == w).all()


def test_path_budget_raises_the_same_error(monkeypatch):
    """A tiny MAX_PATH_STEPS (read at call time, as in orientation.py) stops both paths."""
    rng = np.random.default_rng(1)
    pag = PAG(range(16), complete=False)
    for i in range(16):  # a sparse circle graph: long uncovered-path searches
        for j in range(i + 1, 16):
            if rng.random() < 0.25:
                pag.marks[i, j] = pag.marks[j, i] = 1
    monkeypatch.setattr(ori, "MAX_PATH_STEPS", 2)
    monkeypatch.setattr(ori, "_PRUNE_AFTER", 0)
    nodes = np.arange(16)
    with pytest.raises(ori.PathSearchBudgetExceeded) as want:
        orient_fixpoint(pag.marks.copy(), nodes, {}, (5, 6, 7))
    st_ = icd_compiled._State(pag, nodes, FisherZTest(np.eye(16), 64, 0.01))
    with pytest.raises(ori.PathSearchBudgetExceeded) as got:
        st_.orient([(5, 6, 7)], reset=False, r0=False)
    assert str(got.value) == str(want.value)
