"""ICD driven through the compiled kernels of ``_kernels`` (the default for FisherZTest).

The same schedule as ``icd.learn_icd`` (r = 0, R0 + R1-R4, r = 1, reset + R0-R10,
r = 2, ...), every step compiled: r = 0, r = 1, r = 2, r >= 3 (PDS trees and legal
subsets), the CI tests, R0, R1-R4 and R5-R10. Python keeps the bookkeeping (sepset dict,
test counters) and two fallbacks: r >= 3 candidates of a pair whose pruned tree has more
than 62 labels, and of graphs over ``MAX_TREE_SIZE`` positions. A kernel that meets a
test too close to the decision threshold to decide with certainty (see ``_kernels``)
stops; the test is decided by the pure path's own p-value, remembered, and the kernel
re-runs from the same marks, so every decision is the pure path's.
"""
from __future__ import annotations

from functools import lru_cache
from itertools import combinations

import numpy as np

from cleann.causal import _kernels as K
from cleann.causal import orientation as ori
from cleann.causal.citest import FisherZTest
from cleann.causal.icd_candidates import Candidates, CITests, ICDResult
from cleann.causal.orientation import PathSearchBudgetExceeded, orient_fixpoint
from cleann.causal.pag import PAG


@lru_cache(maxsize=64)
def _bounds(num_samples: int, alpha: float, legacy: bool, k_max: int) -> np.ndarray:
    """Decision bands per conditioning size, once per process and (N, alpha, rule)."""
    return K.decision_bounds(num_samples, alpha, legacy, k_max)


class _State:
    """Marks, sepsets (dict and the arrays the orientation kernels read), overrides."""

    def __init__(self, pag: PAG, nodes: np.ndarray, ci: FisherZTest):
        self.pag = pag
        self.marks = pag.marks
        self.nodes = nodes.astype(np.int64)
        self.ci = ci
        self.R = np.ascontiguousarray(ci.corr, dtype=np.float64)
        self.legacy = bool(ci.legacy)
        size = pag.size
        self.sepsets: dict[tuple[int, int], tuple[int, ...]] = {}
        self.sep_len = np.zeros((size, size), np.int64)
        self.sep_buf = np.zeros((size, size, 2), np.int64)
        self.ov_keys = np.zeros((8, 3 + K.MAX_K), np.int64)
        self.ov_dec = np.zeros(8, np.int64)
        self.n_ov = 0
        self.unsure = np.zeros(3 + K.MAX_K, np.int64)
        self.bounds = _bounds(ci.num_samples, ci.alpha, self.legacy, 2)
        self.overrides = 0

    def need_k(self, k: int) -> None:
        """Make the bounds, sepset buffer and unsure/override keys wide enough for |Z| = k."""
        if 3 + k > self.unsure.shape[0]:  # keys are (x, y, k, z_1..z_k)
            width = 3 + 2 * k
            self.unsure = np.zeros(width, np.int64)
            keys = np.zeros((len(self.ov_keys), width), np.int64)
            keys[:, : self.ov_keys.shape[1]] = self.ov_keys
            self.ov_keys = keys
        if k >= len(self.bounds):
            self.bounds = _bounds(self.ci.num_samples, self.ci.alpha, self.legacy, max(k, 2 * len(self.bounds)))
        if k > self.sep_buf.shape[2]:
            grown = np.zeros(self.sep_buf.shape[:2] + (max(k, 2 * self.sep_buf.shape[2]),), np.int64)
            grown[:, :, : self.sep_buf.shape[2]] = self.sep_buf
            self.sep_buf = grown

    def add_sepset(self, i: int, j: int, sep: tuple[int, ...]) -> None:
        self.sepsets[(i, j)] = sep
        k = len(sep)
        if k:
            self.need_k(k)
            self.sep_buf[i, j, :k] = sep
            self.sep_buf[j, i, :k] = sep
        self.sep_len[i, j] = self.sep_len[j, i] = k

    def add_log(self, log: np.ndarray, k: int) -> None:
        """Sepsets of the deletions ``log[:, :2]`` with members ``log[:, 2:2 + k]``, in order."""
        if not len(log):
            return
        self.need_k(k)
        if k == 0:
            self.sepsets.update(dict.fromkeys(map(tuple, log[:, :2].tolist()), ()))
        elif k == 1:
            self.sepsets.update({(i, j): (z,) for i, j, z in log[:, :3].tolist()})
        else:
            self.sepsets.update({(row[0], row[1]): tuple(row[2:]) for row in log[:, :2 + k].tolist()})
        i, j = log[:, 0], log[:, 1]
        self.sep_len[i, j] = self.sep_len[j, i] = k
        if k:
            self.sep_buf[i, j, :k] = log[:, 2:2 + k]
            self.sep_buf[j, i, :k] = log[:, 2:2 + k]

    def resolve(self) -> None:
        """Decide the kernel's unsure test with the pure path's p-value; remember it."""
        x, y, k = (int(v) for v in self.unsure[:3])
        zs = self.unsure[3:3 + k].astype(np.intp).reshape(1, k)
        p = self.ci.batch_pvalues(np.array([x]), np.array([y]), zs)
        if self.n_ov == len(self.ov_dec):
            self.ov_keys = np.concatenate([self.ov_keys, np.zeros_like(self.ov_keys)])
            self.ov_dec = np.concatenate([self.ov_dec, np.zeros_like(self.ov_dec)])
        self.ov_keys[self.n_ov] = self.unsure
        self.ov_dec[self.n_ov] = K.INDEP if p[0] > self.ci.alpha else K.DEP
        self.n_ov += 1
        self.overrides += 1

    def run(self, kernel, *args):
        """Run a kernel that edits marks and may abort on an unsure test; retry from the
        same marks after resolving it."""
        while True:
            saved = self.marks.copy()
            out = kernel(*args, self.ov_keys, self.ov_dec, self.n_ov, self.unsure)
            if out[-1] == K.OK:
                return out
            self.marks[:, :] = saved
            self.resolve()

    def count(self, k: int, n: int) -> None:
        self.ci.count_tests(k, n)
        self.ci.n_computed += n

    # --- orientation -----------------------------------------------------------------
    def orient(self, batches: list[tuple[int, ...]], reset: bool, r0: bool = True) -> None:
        if reset:
            self.pag.reset_marks()
        if r0:
            K.v_structures(self.marks, self.nodes, self.sep_len, self.sep_buf)
        for rules in batches:
            rules = tuple(rules)
            if rules == (1, 2, 3, 4):
                if K.orient_r1_r4(self.marks, self.nodes, self.sep_len, self.sep_buf) < 0:
                    raise RuntimeError(f"orientation rules {list(rules)} did not reach a fixpoint in {K.MAX_PASSES} passes")
            elif rules in ((5, 6, 7), (8, 9, 10)):
                err = np.zeros(4, np.int64)
                limits = np.array([ori.MAX_PATH_STEPS, ori._PRUNE_AFTER], np.int64)  # read now: tests patch them
                _, status = K.orient_r5_r10(self.marks, self.nodes, rules[0], err, limits)
                if status == K.BUDGET:
                    x, y, nx, ny = err.tolist()
                    raise PathSearchBudgetExceeded(
                        f"uncovered-path search <{x}, {nx}, ..., {ny}, {y}> on a {len(self.marks)}-node graph "
                        f"exceeded {ori.MAX_PATH_STEPS:,} steps (orientation rules R5/R9/R10)")
                if status == K.NO_FIXPOINT:
                    raise RuntimeError(f"orientation rules {list(rules)} did not reach a fixpoint in {K.MAX_PASSES} passes")
            else:
                orient_fixpoint(self.marks, self.nodes, self.sepsets, rules)


def learn_icd_compiled(nodes_arr: np.ndarray, ci: FisherZTest, max_cond_size: int | None):
    """``icd.learn_icd`` for a fresh FisherZTest through the kernels (same result)."""
    pag = PAG(nodes_arr.tolist())
    cit = CITests(ci)  # snapshot of the test's counters for totals()
    st = _State(pag, nodes_arr, ci)
    nodes = st.nodes

    if len(nodes) >= 2:
        out_pairs = np.empty((len(nodes) * (len(nodes) - 1) // 2, 2), np.int64)
        cnt, tests, _ = st.run(lambda *a: K.marginal(st.R, nodes, st.bounds, st.legacy, *a, out_pairs))
        st.count(0, tests)
        pag.marks[out_pairs[:cnt, 0], out_pairs[:cnt, 1]] = 0
        pag.marks[out_pairs[:cnt, 1], out_pairs[:cnt, 0]] = 0
        st.add_log(out_pairs[:cnt], 0)
    st.orient([(1, 2, 3, 4)], reset=False)
    iterations = 1

    done = max_cond_size == 0
    r = 1
    while not done:
        any_candidate = False
        st.need_k(r)
        if r == 1:
            log = np.empty((max(1, len(nodes) * len(nodes)), 3), np.int64)
            n_del, tests, any_candidate, _ = st.run(
                lambda *a: K.iteration_r1(st.marks, nodes, st.R, st.bounds, st.legacy, *a, log))
            st.count(1, tests)
            st.add_log(log[:n_del], 1)
            st.orient([(1, 2, 3, 4), (5, 6, 7), (8, 9, 10)], reset=True)
            iterations += 1
            done = not any_candidate
        else:
            if r == 2:
                log = np.empty((max(1, len(nodes) * len(nodes)), 4), np.int64)
                n_del, tests, any_candidate, _ = st.run(
                    lambda *a: K.iteration_r2(st.marks, nodes, st.R, st.bounds, st.legacy, *a, log))
                st.count(2, tests)
                st.add_log(log[:n_del], 2)
            else:
                any_candidate = _iteration_tree(st, r, Candidates)
            iterations += 1
            if any_candidate:
                st.orient([(1, 2, 3, 4)], reset=True)
            else:
                done = True
                st.orient([(5, 6, 7), (8, 9, 10)], reset=False, r0=False)
                break
        if not done and max_cond_size is not None and r >= max_cond_size:
            st.orient([(5, 6, 7), (8, 9, 10)], reset=False, r0=False)
            done = True
        r += 1

    n_tests, by_size = cit.totals()
    return ICDResult(pag=pag, sepsets=st.sepsets, ci_tests=n_tests, iterations=iterations, ci_tests_by_size=by_size)


def _iteration_tree(st: _State, r: int, candidates_cls) -> bool:
    """r >= 3 through ``_kernels.iteration_tree``; a pair it cannot enumerate (more
    than 62 candidate labels) runs :func:`_python_pair` and the kernel resumes after it.
    Graphs over more than ``MAX_TREE_SIZE`` (567) positions use the Python candidates throughout."""
    if st.marks.shape[0] > K.MAX_TREE_SIZE:
        return _iteration_tree_python(st, r, candidates_cls)
    nodes = st.nodes
    n = len(nodes)
    log = np.empty((max(1, n * n), 2 + r), np.int64)
    any_candidate = False
    start = 0
    while True:
        n_del, tests, anyc, pair, _ = st.run(
            lambda *a: K.iteration_tree(st.marks, nodes, st.R, r, start, st.bounds, st.legacy, *a, log))
        any_candidate |= bool(anyc)
        st.count(r, tests)
        st.add_log(log[:n_del], r)
        if pair < 0:
            return any_candidate
        i, j = int(nodes[pair // n]), int(nodes[pair % n])
        any_candidate |= _python_pair(st, candidates_cls(st.pag, r), r, i, j)
        start = pair + 1


def _python_pair(st: _State, cands, r: int, i: int, j: int) -> bool:
    sets = cands.for_pair(i, j)
    if len(sets) == 0:
        return False
    zz = np.ascontiguousarray(sets, dtype=np.int64)
    hit, tests, _ = st.run(lambda *a: K.first_rows(st.R, i, j, zz, st.bounds, st.legacy, *a))
    st.count(r, tests)
    if hit >= 0:
        st.pag.remove_edge(i, j)
        st.add_sepset(i, j, tuple(int(z) for z in sets[hit]))
        cands.deleted(i, j)
    return True


def _iteration_tree_python(st: _State, r: int, candidates_cls) -> bool:
    """r >= 3: PDS-tree candidates in Python (``icd_candidates.Candidates``), tests compiled."""
    marks = st.marks
    cands = candidates_cls(st.pag, r)
    any_candidate = False
    for i, j in combinations(st.nodes.tolist(), 2):
        if not marks[i, j]:
            continue
        sets = cands.for_pair(i, j)
        if len(sets) == 0:
            continue
        any_candidate = True
        zz = np.ascontiguousarray(sets, dtype=np.int64)
        hit, tests, _ = st.run(lambda *a: K.first_rows(st.R, i, j, zz, st.bounds, st.legacy, *a))
        st.count(r, tests)
        if hit >= 0:
            st.pag.remove_edge(i, j)
            st.add_sepset(i, j, tuple(int(z) for z in sets[hit]))
            cands.deleted(i, j)
    return any_candidate
