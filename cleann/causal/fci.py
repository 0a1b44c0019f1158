"""Alternative learner: causal-learn's FCI on exactly our CI semantics.

Why: a well-known baseline PAG learner on the same statistic as ICD, for comparison and
for the benchmark. causal-learn receives a dummy zero data matrix (it only reads its
shape) and a registered CI class that asks our ``FisherZTest`` for the p-value, so both
learners see identical p-values.

Determinism: causal-learn iterates Python ``set``s of ``GraphNode`` (e.g. the
possible-d-sep BFS in ``getPossibleDsep`` and rule 9's possible children), and a
``GraphNode`` hashes as ``hash(name)``, a *string* hash that changes with
``PYTHONHASHSEED``. That order decides which separating set is found first, so a few
graphs differ between interpreter runs. We pass node names that are ``str`` subclasses
hashing exactly as CPython hashes the same string under ``PYTHONHASHSEED=0`` (SipHash-1-3
with a zero key), which makes the result independent of the interpreter's seed and
equal to the stored seed-0 reference output (``fci_causallearn.jsonl``).
"""
from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from causallearn.search.ConstraintBased.FCI import fci
from causallearn.utils.cit import CIT_Base, register_ci_test

from cleann.causal.pag import ARROW, CIRCLE, TAIL, PAG

_METHOD = "cleann_fisherz"
_CL_TO_MARK = {-1: TAIL, 1: ARROW, 2: CIRCLE}  # causal-learn's G.graph[a, b] is the mark at a
_MASK = (1 << 64) - 1


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & _MASK


def _sipround(v0: int, v1: int, v2: int, v3: int) -> tuple[int, int, int, int]:
    v0 = (v0 + v1) & _MASK; v1 = _rotl(v1, 13) ^ v0; v0 = _rotl(v0, 32)  # noqa: E702
    v2 = (v2 + v3) & _MASK; v3 = _rotl(v3, 16) ^ v2  # noqa: E702
    v0 = (v0 + v3) & _MASK; v3 = _rotl(v3, 21) ^ v0  # noqa: E702
    v2 = (v2 + v1) & _MASK; v1 = _rotl(v1, 17) ^ v2; v2 = _rotl(v2, 32)  # noqa: E702
    return v0, v1, v2, v3


def seed0_str_hash(text: str) -> int:
    """``hash(text)`` as CPython 3.11 computes it with ``PYTHONHASHSEED=0`` (ASCII text):
    SipHash-1-3 of the bytes with a zero key."""
    data = text.encode("ascii")
    if not data:
        return 0  # CPython special-cases the empty string
    v0, v1, v2, v3 = 0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573
    end = len(data) - len(data) % 8
    for i in range(0, end, 8):
        m = int.from_bytes(data[i:i + 8], "little")
        v3 ^= m
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
        v0 ^= m
    last = ((len(data) & 0xFF) << 56) | int.from_bytes(data[end:], "little")
    v3 ^= last
    v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    v0 ^= last
    v2 ^= 0xFF
    for _ in range(3):
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    h = v0 ^ v1 ^ v2 ^ v3
    h = h - (1 << 64) if h >= 1 << 63 else h
    return -2 if h == -1 else h


class _SeedZeroName(str):
    """A node name whose hash does not depend on the interpreter's hash seed."""

    __slots__ = ()

    def __hash__(self) -> int:
        return seed0_str_hash(str(self))


class _CleannCI(CIT_Base):
    """causal-learn CI class: p-values from our test, on the original node indices."""

    def __init__(self, data: np.ndarray, ci_test=None, index: Sequence[int] = (), **kwargs):
        super().__init__(data, **kwargs)
        self.check_cache_method_consistent(_METHOD, "ci_test")
        self.ci_test = ci_test
        self.index = list(index)

    def __call__(self, X, Y, condition_set=None):
        xs, ys, cond, key = self.get_formatted_XYZ_and_cachekey(X, Y, condition_set)
        p = self.pvalue_cache.get(key)
        if p is None:
            z = tuple(self.index[int(c)] for c in (condition_set or ()))
            p = float(self.ci_test.pvalue(self.index[xs[0]], self.index[ys[0]], z))
            self.pvalue_cache[key] = p
        return p


register_ci_test(_METHOD, _CleannCI)


@dataclass
class FCIResult:
    pag: PAG
    ci_tests: int


def learn_fci(nodes: Sequence[int], ci_test, size: int | None = None) -> FCIResult:
    """FCI (causal-learn 0.1.4.8, unlimited depth and path length) over ``nodes``.

    ``ci_test`` needs ``.pvalue(x, y, cond)`` on original indices and ``.alpha``;
    ``size`` is the PAG's index range (default: the correlation matrix's size).
    """
    nodes = sorted(int(n) for n in nodes)
    if size is None:
        size = ci_test.corr.shape[0] if hasattr(ci_test, "corr") else (nodes[-1] + 1 if nodes else 0)
    pag = PAG(nodes, size, complete=False)
    before = getattr(ci_test, "n_tests", 0)
    if len(nodes) >= 2:
        dummy = np.zeros((max(getattr(ci_test, "num_samples", 4), 1), len(nodes)))
        names = [_SeedZeroName(f"X{k + 1}") for k in range(len(nodes))]
        with contextlib.redirect_stdout(io.StringIO()):
            graph, _ = fci(dummy, _METHOD, ci_test.alpha, depth=-1, max_path_length=-1,
                           show_progress=False, node_names=names, ci_test=ci_test, index=nodes)
        g = graph.graph
        idx = np.array(nodes)
        aa, bb = np.nonzero(g)
        pag.marks[idx[aa], idx[bb]] = [_CL_TO_MARK[int(v)] for v in g[aa, bb]]
    return FCIResult(pag, getattr(ci_test, "n_tests", 0) - before)
