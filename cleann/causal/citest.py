"""Fisher-z partial-correlation CI test over an attention-derived correlation matrix.

Semantics follow the reference (golden FORMAT §6) exactly:

* ``attention_to_correlation``: C = A·Aᵀ over all columns, normalised ``(C[i,j]·s[j])·s[i]``
  with ``s = 1/sqrt(diag C)`` (the same float operation order as the reference).
* ``|Z| = 0``: ``r = R[x,y]`` (``R[x,y] >= 1`` -> p = 0). ``|Z| = 1``: the closed form
  (``R[x,z] >= 1`` or ``R[y,z] >= 1`` -> p = 0). ``|Z| >= 2``: ``P = inv(R[(x,y,Z),(x,y,Z)])``,
  ``r = -P[0,1] / sqrt(|P[0,0]·P[1,1]|)``.
* current rule: ``|r| >= 1`` -> p = 0; else ``p = 2·(1 - Φ(sqrt(N-|Z|-3)·|atanh r|))``.
  legacy rule: ``r >= 1`` -> p = 0, ``r <= 0`` -> p = +inf (independent), else Fisher.
* independent iff ``p > alpha`` (strict); a NaN p counts as dependent.

Why ``erfc``: ``2·(1 - Φ(s)) == erfc(s/√2)`` mathematically. The reference's form becomes
exactly 0 once Φ(s) rounds to 1 (``1 - Φ < 2**-53 ≈ 1.1e-16``), where erfc still gives a
tiny positive number. Both are far below any alpha >= 1e-10, so no decision can differ;
everywhere else the two agree to a few ulps, far below the golden cases' smallest
relative p/alpha gap (6.5e-4).

Singular submatrices (|Z| >= 2): when ``inv`` fails or returns non-finite values, the
pseudo-inverse (``pinv``) is used instead -- what the 2023 reference always used -- and the
test is counted in ``n_singular``. A resulting NaN r counts as dependent; the test never
raises.

The cache is keyed by (unordered pair, sorted Z); ``n_tests`` counts computed statistics
(cache misses, including early exits), as the reference's ``ci_tests`` does.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import erfc

from cleann.errors import BadInputError

_SQRT2 = np.sqrt(2.0)


def attention_to_correlation(attention: np.ndarray) -> np.ndarray:
    """Correlation matrix of attention rows: ``C = A·Aᵀ`` normalised by its diagonal."""
    a = np.asarray(attention, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise BadInputError(f"attention must be a square 2-D matrix, got shape {a.shape}")
    cov = a @ a.T
    std = np.sqrt(np.diag(cov))
    bad = np.flatnonzero(~(std > 1e-8))
    if bad.size:
        raise BadInputError(
            f"attention rows {bad.tolist()} have (near) zero norm (sqrt(diag(A·Aᵀ)) <= 1e-8); "
            "their correlation is undefined"
        )
    s = 1.0 / std
    return (cov * s[None, :]) * s[:, None]


def fisher_pvalues(r: np.ndarray, cond_size: int, num_samples: int, legacy: bool) -> np.ndarray:
    """p-values for partial correlations ``r`` (array) with a conditioning set of size k."""
    r = np.asarray(r, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        zf = 0.5 * np.log1p(2.0 * r / (1.0 - r))
        stat = np.sqrt(float(num_samples - cond_size - 3)) * np.abs(zf)
        p = erfc(stat / _SQRT2)
    if legacy:
        p = np.where(r >= 1.0, 0.0, np.where(r <= 0.0, np.inf, p))
    else:
        p = np.where(np.abs(r) >= 1.0, 0.0, p)
    return p


class FisherZTest:
    """Cached Fisher-z CI test: ``independent(x, y, cond)`` iff ``p > alpha``."""

    def __init__(self, corr: np.ndarray, num_samples: int, alpha: float, legacy_negative_pcorr: bool = False):
        corr = np.asarray(corr, dtype=np.float64)
        if corr.ndim != 2 or corr.shape[0] != corr.shape[1]:
            raise BadInputError(f"corr must be a square matrix, got shape {corr.shape}")
        if int(num_samples) < 4:
            raise BadInputError(f"num_samples must be >= 4, got {num_samples}")
        if not 0.0 <= float(alpha) < 1.0:
            raise BadInputError(f"alpha must lie in [0, 1), got {alpha}")
        self.corr = corr
        self.num_samples = int(num_samples)
        self.alpha = float(alpha)
        self.legacy = bool(legacy_negative_pcorr)
        self._cache: dict[tuple, float] = {}
        self.n_tests = 0
        self.n_tests_by_size: list[int] = []
        self.n_singular = 0
        self.n_computed = 0

    # --- single test -------------------------------------------------------------------
    @staticmethod
    def _key(x: int, y: int, cond: Sequence[int]) -> tuple:
        return (x, y, tuple(sorted(cond))) if x < y else (y, x, tuple(sorted(cond)))

    def pvalue(self, x: int, y: int, cond: Sequence[int] = ()) -> float:
        """The (cached) p-value of ``x ⫫ y | cond``."""
        key = self._key(int(x), int(y), cond)
        p = self._cache.get(key)
        if p is None:
            p = float(self._compute(np.array([[x]]), np.array([[y]]), np.asarray(cond, dtype=np.intp)[None, :])[0])
            self._store(key, p)
        return p

    def independent(self, x: int, y: int, cond: Sequence[int] = ()) -> bool:
        return bool(self.pvalue(x, y, cond) > self.alpha)

    def partial_correlation(self, x: int, y: int, cond: Sequence[int] = ()) -> float:
        """r(x, y | cond) as the reference computes it (NaN-free only for non-degenerate inputs)."""
        r, _ = self._partial(np.array([x]), np.array([y]), np.asarray(cond, dtype=np.intp).reshape(1, -1))
        return float(r[0])

    # --- batches -----------------------------------------------------------------------
    def pvalues(self, x: int, y: int, conds: Sequence[Sequence[int]]) -> np.ndarray:
        """p-values for one pair under many conditioning sets (any sizes), cached."""
        out = np.empty(len(conds))
        todo: dict[int, list[int]] = {}
        keys = []
        for n, cond in enumerate(conds):
            key = self._key(int(x), int(y), cond)
            keys.append(key)
            p = self._cache.get(key)
            if p is None:
                todo.setdefault(len(key[2]), []).append(n)
            else:
                out[n] = p
        for k, rows in todo.items():
            # duplicates inside one batch are computed once
            uniq: dict[tuple, int] = {}
            for n in rows:
                uniq.setdefault(keys[n], n)
            firsts = list(uniq.values())
            zz = np.array([keys[n][2] for n in firsts], dtype=np.intp).reshape(len(firsts), k)
            ps = self._compute(np.full(len(firsts), x), np.full(len(firsts), y), zz)
            for n, p in zip(firsts, ps):
                self._store(keys[n], float(p))
            for n in rows:
                out[n] = self._cache[keys[n]]
        return out

    def independent_many(self, xs: Sequence[int], ys: Sequence[int], zz: np.ndarray) -> np.ndarray:
        """Cached decisions for many (x, y, Z) with the same |Z| (``zz`` shape (m, k))."""
        zz = np.asarray(zz, dtype=np.intp).reshape(len(xs), -1)
        keys = [self._key(int(x), int(y), z) for x, y, z in zip(xs, ys, zz.tolist())]
        miss = [n for n, key in enumerate(keys) if key not in self._cache]
        if miss:
            m = np.array(miss)
            ps = self.batch_pvalues(np.asarray(xs)[m], np.asarray(ys)[m], zz[m])
            for n, p in zip(miss, ps.tolist()):
                if keys[n] not in self._cache:
                    self._store(keys[n], p)
        return np.array([self._cache[key] > self.alpha for key in keys], dtype=bool)

    def first_independent_rows(self, x: int, y: int, zz: np.ndarray, chunk: int = 512) -> int:
        """Index of the first row of ``zz`` (distinct sets, shape (m, k)) under which
        x ⫫ y, or -1; uncached, for callers that never repeat a (pair, set) -- ICD visits
        each pair once per conditioning size.

        Rows are evaluated in growing vectorised chunks (1, 8, 64, ... ``chunk``).
        ``n_tests`` counts the rows a one-by-one scan would have computed (up to and
        including the first independent one); ``n_computed`` counts all evaluated rows.
        """
        zz = np.asarray(zz, dtype=np.intp)
        m, k = zz.shape
        start, step = 0, 1
        while start < m:
            part = zz[start:start + step]
            ps = self.batch_pvalues(np.full(len(part), x), np.full(len(part), y), part)
            self.n_computed += len(part)
            hit = np.flatnonzero(ps > self.alpha)
            used = int(hit[0]) + 1 if hit.size else len(part)
            self._count(k, used)
            if hit.size:
                return start + int(hit[0])
            start += len(part)
            step = min(step * 8, chunk)
        return -1

    def pvalues_single_slab(self, x: int, ys: np.ndarray) -> np.ndarray:
        """Uncached p-values of (x, y | z) for every y in ``ys`` and every z (shape
        (len(ys), n)); entries with z in {x, y} are meaningless. The same float
        operations as the one-test closed form, so the same bits."""
        R = self.corr
        ys = np.asarray(ys, dtype=np.intp)
        rxz = R[x][None, :]
        ryz = R[ys]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = (R[x, ys][:, None] - rxz * ryz) / np.sqrt((1.0 - rxz**2) * (1.0 - ryz**2))
        p = fisher_pvalues(r, 1, self.num_samples, self.legacy)
        p[(rxz >= 1.0) | (ryz >= 1.0)] = 0.0
        self.n_computed += p.size
        return p

    def count_tests(self, k: int, n: int) -> None:
        """Record ``n`` statistics of size k that a one-by-one scan would have computed
        (for callers that evaluate decisions in bulk, e.g. ICD's r = 1 slabs)."""
        self._count(k, n)

    def batch_pvalues(self, xs: np.ndarray, ys: np.ndarray, zz: np.ndarray) -> np.ndarray:
        """Uncached p-values for many (x, y, Z) with the same |Z| (``zz`` shape (m, k))."""
        xs = np.asarray(xs, dtype=np.intp).ravel()
        ys = np.asarray(ys, dtype=np.intp).ravel()
        zz = np.asarray(zz, dtype=np.intp).reshape(len(xs), -1)
        r, early = self._partial(xs, ys, zz)
        p = fisher_pvalues(r, zz.shape[1], self.num_samples, self.legacy)
        p[early] = 0.0
        return p

    # --- internals ---------------------------------------------------------------------
    def _store(self, key: tuple, p: float) -> None:
        self._cache[key] = p
        self.n_computed += 1
        self._count(len(key[2]), 1)

    def _count(self, k: int, n: int) -> None:
        self.n_tests += n
        while len(self.n_tests_by_size) <= k:
            self.n_tests_by_size.append(0)
        self.n_tests_by_size[k] += n

    def _compute(self, xs: np.ndarray, ys: np.ndarray, zz: np.ndarray) -> np.ndarray:
        return self.batch_pvalues(xs, ys, zz)

    def _partial(self, xs: np.ndarray, ys: np.ndarray, zz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Partial correlations and an 'early exit' mask (p = 0 regardless of r)."""
        R = self.corr
        xs = np.asarray(xs, dtype=np.intp).ravel()
        ys = np.asarray(ys, dtype=np.intp).ravel()
        k = zz.shape[1]
        with np.errstate(divide="ignore", invalid="ignore"):
            if k == 0:
                r = R[xs, ys].astype(np.float64)
                return r, r >= 1.0
            if k == 1:
                z = zz[:, 0]
                rxy, rxz, ryz = R[xs, ys], R[xs, z], R[ys, z]
                early = (rxz >= 1.0) | (ryz >= 1.0)
                r = (rxy - rxz * ryz) / np.sqrt((1.0 - rxz**2) * (1.0 - ryz**2))
                return r, early
            idx = np.concatenate([xs[:, None], ys[:, None], zz], axis=1)
            sub = R[idx[:, :, None], idx[:, None, :]]
            prec = self._inverse_first_columns(sub)
            r = -prec[:, 0, 1] / np.sqrt(np.abs(prec[:, 0, 0] * prec[:, 1, 1]))
            return r, np.zeros(len(r), dtype=bool)

    def _inverse_first_columns(self, sub: np.ndarray) -> np.ndarray:
        """Columns 0 and 1 of each inverse (all that r needs), by LU solves against two unit
        vectors: bit-identical to those columns of ``np.linalg.inv`` (LAPACK solves each
        right-hand side the same way) at about half the cost. Singular or non-finite
        members fall back to ``pinv``."""
        m, k, _ = sub.shape
        rhs = np.zeros((k, 2))
        rhs[0, 0] = rhs[1, 1] = 1.0
        rhs = np.broadcast_to(rhs, (m, k, 2))
        try:
            prec = np.linalg.solve(sub, rhs)
            bad = ~np.isfinite(prec).all(axis=(1, 2))
        except np.linalg.LinAlgError:
            prec = np.empty((m, k, 2))
            bad = np.zeros(m, dtype=bool)
            for n in range(m):
                try:
                    prec[n] = np.linalg.solve(sub[n], rhs[n])
                    bad[n] = not np.isfinite(prec[n]).all()
                except np.linalg.LinAlgError:
                    bad[n] = True
        if bad.any():
            self.n_singular += int(bad.sum())
            for n in np.flatnonzero(bad):
                prec[n] = np.linalg.pinv(sub[n])[:, :2] if np.isfinite(sub[n]).all() else np.nan
        return prec
