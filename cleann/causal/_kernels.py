"""Compiled (numba) kernels for ICD's hot loops, with the pure path's exact decisions.

Why: the pure-Python/numpy ICD spends its time in about a million small numpy calls per
snippet (r = 1 slab walks, r = 2 candidate enumeration, R1-R4 fixpoints, closures).
These kernels run the same loops in machine code.

Why decisions stay identical although the floats are computed differently: a Fisher-z
decision ``p > alpha`` is monotone in |r| (in r for the legacy rule), so for each
conditioning size k there is a threshold r*_k. :func:`decision_bounds` finds it by
bisection on the pure path's own ``fisher_pvalues`` and widens it to a band
[lo_k, hi_k] (``BAND`` = 1e-8 on r). A kernel decides itself only outside the band and
only for well-conditioned matrices (every LU pivot >= ``MIN_PIVOT``, finite r); anything
else is *uncertain*: the kernel stops and reports the test, the caller computes the pure
path's p-value for it (``FisherZTest.batch_pvalues``), stores the decision as an
override and runs the kernel again from the same state. Partial correlations of sizes
0 and 1 are the same IEEE operations as the pure path; for k >= 2 our LU and LAPACK's
agree to ~cond * 1e-16, far inside the band.

All kernels take ``marks`` (int8, ``marks[a, b]`` = mark at a on a-b) and ``nodes``
(ascending int64) and mirror the scans of ``icd.py`` / ``orientation.py`` line by line.
Compiled with ``cache=True``: the first call in a fresh environment compiles (seconds,
see docs/engine.md), later processes load the cached machine code.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

NONE, CIRCLE, ARROW, TAIL = 0, 1, 2, 3
BAND = 1e-8  # half-width of the uncertain band around r*_k
MIN_PIVOT = 1e-5  # smaller |LU pivot| -> uncertain (the pure path's pinv fallback is near)
MAX_K = 64  # initial override key width (conditioning sets); the driver widens it when needed
MAX_TREE_SIZE = 9 * 63  # widest graph (positions) whose r >= 3 candidates are compiled
INDEP, DEP, UNSURE = 1, 0, -1
OK, ABORT, NO_FIXPOINT = 0, 1, 2
MAX_PASSES = 10_000


def decision_bounds(num_samples: int, alpha: float, legacy: bool, k_max: int) -> np.ndarray:
    """``(k_max + 1, 2)`` array of [lo_k, hi_k]: |r| < lo_k is independent, |r| > hi_k
    dependent under the pure path's rule; in between (or where N - k - 3 < 1) unsure."""
    from scipy.special import erfcinv

    from cleann.causal.citest import fisher_pvalues

    out = np.empty((k_max + 1, 2))
    for k in range(k_max + 1):
        if num_samples - k - 3 < 1:
            out[k] = (-1.0, 2.0)  # every test unsure: the pure path decides
            continue

        def indep(r: float) -> bool:
            return bool(fisher_pvalues(np.array([r]), k, num_samples, legacy)[0] > alpha)

        lo, hi = 0.0, 1.0
        if not indep(lo) or indep(hi):
            out[k] = (-1.0, 2.0)
            continue
        # bracket around the closed form r* = tanh(erfcinv(alpha) * sqrt(2 / (N - k - 3))),
        # then bisect the pure rule inside it to far below BAND
        guess = float(np.tanh(erfcinv(alpha) * np.sqrt(2.0 / (num_samples - k - 3)))) if alpha > 0 else 1.0
        for width in (1e-9, 1e-6, 1e-3):
            a, b = max(0.0, guess - width), min(1.0, guess + width)
            if indep(a) and not indep(b):
                lo, hi = a, b
                break
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if mid in (lo, hi) or hi - lo < BAND * 1e-3:
                break
            if indep(mid):
                lo = mid
            else:
                hi = mid
        out[k] = (lo - BAND, hi + BAND)
    return out


# --- one CI test --------------------------------------------------------------------
@njit(cache=True, inline="always")
def _decide(r: float, lo: float, hi: float, legacy: bool) -> int:
    if not math.isfinite(r):
        return UNSURE
    if legacy:
        if r >= 1.0:
            return DEP
        if r <= 0.0 or r < lo:
            return INDEP
        return DEP if r > hi else UNSURE
    a = abs(r)
    if a >= 1.0:
        return DEP
    if a < lo:
        return INDEP
    return DEP if a > hi else UNSURE


@njit(cache=True)
def _pcorr_lu(R, x, y, zs, k, A):
    """r(x, y | zs[:k]) via LU with partial pivoting of R[(x,y,Z),(x,y,Z)] solved against
    e0, e1; NaN when a pivot is small (the caller then treats the test as unsure)."""
    m = k + 2
    for a in range(m):
        ia = x if a == 0 else (y if a == 1 else zs[a - 2])
        for b in range(m):
            ib = x if b == 0 else (y if b == 1 else zs[b - 2])
            A[a, b] = R[ia, ib]
        A[a, m] = 1.0 if a == 0 else 0.0
        A[a, m + 1] = 1.0 if a == 1 else 0.0
    for c in range(m):
        p = c
        best = abs(A[c, c])
        for a in range(c + 1, m):
            v = abs(A[a, c])
            if v > best:
                best, p = v, a
        if not (best >= MIN_PIVOT):
            return math.nan
        if p != c:
            for b in range(m + 2):
                t = A[c, b]
                A[c, b] = A[p, b]
                A[p, b] = t
        piv = A[c, c]
        for a in range(c + 1, m):
            f = A[a, c] / piv
            if f != 0.0:
                for b in range(c, m + 2):
                    A[a, b] -= f * A[c, b]
    # back substitution for the two right-hand sides; only rows 0 and 1 are needed,
    # but they depend on all rows below
    for col in range(m, m + 2):
        for a in range(m - 1, -1, -1):
            s = A[a, col]
            for b in range(a + 1, m):
                s -= A[a, b] * A[b, col]
            A[a, col] = s / A[a, a]
    p00 = A[0, m]
    p01 = A[0, m + 1]
    p11 = A[1, m + 1]
    return -p01 / math.sqrt(abs(p00 * p11))


@njit(cache=True)
def ci_decide(R, x, y, zs, k, bounds, legacy, A):
    """INDEP, DEP or UNSURE for x ⫫ y | zs[:k] (the pure path's rule, see module doc)."""
    lo = bounds[k, 0]
    hi = bounds[k, 1]
    if k == 0:
        r = R[x, y]
        if r >= 1.0:
            return DEP
        return _decide(r, lo, hi, legacy)
    if k == 1:
        z = zs[0]
        rxz = R[x, z]
        ryz = R[y, z]
        if rxz >= 1.0 or ryz >= 1.0:
            return DEP
        r = (R[x, y] - rxz * ryz) / math.sqrt((1.0 - rxz * rxz) * (1.0 - ryz * ryz))
        return _decide(r, lo, hi, legacy)
    return _decide(_pcorr_lu(R, x, y, zs, k, A), lo, hi, legacy)


@njit(cache=True)
def _lookup(ov_keys, ov_dec, n_ov, x, y, zs, k):
    """Override decision for (x, y, zs[:k]) (zs ascending), or -1."""
    for n in range(n_ov):
        if ov_keys[n, 0] != x or ov_keys[n, 1] != y or ov_keys[n, 2] != k:
            continue
        same = True
        for c in range(k):
            if ov_keys[n, 3 + c] != zs[c]:
                same = False
                break
        if same:
            return ov_dec[n]
    return -1


@njit(cache=True)
def _test(R, x, y, zs, k, bounds, legacy, A, ov_keys, ov_dec, n_ov, unsure):
    """A decision, with overrides; UNSURE (key written to ``unsure``) when neither."""
    d = ci_decide(R, x, y, zs, k, bounds, legacy, A)
    if d != UNSURE:
        return d
    o = _lookup(ov_keys, ov_dec, n_ov, x, y, zs, k)
    if o >= 0:
        return o
    unsure[0] = x
    unsure[1] = y
    unsure[2] = k
    for c in range(k):
        unsure[3 + c] = zs[c]
    return UNSURE


@njit(cache=True)
def first_rows(R, x, y, zz, bounds, legacy, ov_keys, ov_dec, n_ov, unsure):
    """(index of the first row of ``zz`` with x ⫫ y | row, or -1; rows tested, a
    one-by-one scan's count; status OK or ABORT)."""
    m, k = zz.shape
    A = np.empty((k + 2, k + 4))
    zs = np.empty(max(k, 1), np.int64)
    for n in range(m):
        for c in range(k):
            zs[c] = zz[n, c]
        d = _test(R, x, y, zs, k, bounds, legacy, A, ov_keys, ov_dec, n_ov, unsure)
        if d == UNSURE:
            return -1, n, ABORT
        if d == INDEP:
            return n, n + 1, OK
    return -1, m, OK


# --- ICD iterations -----------------------------------------------------------------
@njit(cache=True)
def marginal(R, nodes, bounds, legacy, ov_keys, ov_dec, n_ov, unsure, out_pairs):
    """r = 0 over every pair (i < j) ascending: writes independent pairs into
    ``out_pairs``; returns (number of independent pairs, tests, status)."""
    A = np.empty((2, 4))
    zs = np.empty(1, np.int64)
    n = len(nodes)
    cnt = 0
    for a in range(n):
        for b in range(a + 1, n):
            d = _test(R, nodes[a], nodes[b], zs, 0, bounds, legacy, A, ov_keys, ov_dec, n_ov, unsure)
            if d == UNSURE:
                return 0, 0, ABORT
            if d == INDEP:
                out_pairs[cnt, 0] = nodes[a]
                out_pairs[cnt, 1] = nodes[b]
                cnt += 1
    return cnt, n * (n - 1) // 2, OK


@njit(cache=True)
def iteration_r1(marks, nodes, R, bounds, legacy, ov_keys, ov_dec, n_ov, unsure, log):
    """ICD's r = 1 (``icd._iteration_r1`` with ``_r1_slab``): pairs (i < j) ascending,
    candidates adj(i) minus j, then adj(j) minus adj(i) and i, ascending; deletions at
    once. ``log[t] = (i, j, z)`` per deletion in order. Returns (deletions, tests,
    any candidate, status)."""
    size = marks.shape[0]
    A = np.empty((3, 5))
    zs = np.empty(1, np.int64)
    nb = np.zeros(size, np.bool_)
    n_del = 0
    tests = 0
    anyc = False
    for ii in range(len(nodes)):
        i = nodes[ii]
        for z in range(size):
            nb[z] = marks[i, z] != NONE
        for jj in range(ii + 1, len(nodes)):
            j = nodes[jj]
            if marks[i, j] == NONE:
                continue
            tested = 0
            hit = -1
            for z in range(size):
                if nb[z] and z != j:
                    tested += 1
                    zs[0] = z
                    d = _test(R, i, j, zs, 1, bounds, legacy, A, ov_keys, ov_dec, n_ov, unsure)
                    if d == UNSURE:
                        return n_del, tests, anyc, ABORT
                    if d == INDEP:
                        hit = z
                        break
            if hit < 0:
                for z in range(size):
                    if marks[j, z] != NONE and z != i and not nb[z]:
                        tested += 1
                        zs[0] = z
                        d = _test(R, i, j, zs, 1, bounds, legacy, A, ov_keys, ov_dec, n_ov, unsure)
                        if d == UNSURE:
                            return n_del, tests, anyc, ABORT
                        if d == INDEP:
                            hit = z
                            break
            if tested == 0:
                continue
            anyc = True
            tests += tested
            if hit >= 0:
                marks[i, j] = NONE
                marks[j, i] = NONE
                nb[j] = False
                log[n_del, 0] = i
                log[n_del, 1] = j
                log[n_del, 2] = hit
                n_del += 1
    return n_del, tests, anyc, OK


@njit(cache=True)
def possible_ancestors(marks, nodes, anc):
    """``anc[a, b]``: a possibly-directed path a -> ... -> b of length >= 1 (the closure
    of ``orientation.possible_parent_matrix``), by a search from every node."""
    size = marks.shape[0]
    anc[:, :] = False
    stack = np.empty(size, np.int64)
    for a in nodes:
        top = 0
        for b in range(size):
            if marks[a, b] != NONE and marks[a, b] != ARROW and marks[b, a] != TAIL:
                if not anc[a, b]:
                    anc[a, b] = True
                    stack[top] = b
                    top += 1
        while top > 0:
            top -= 1
            u = stack[top]
            for b in range(size):
                if marks[u, b] != NONE and marks[u, b] != ARROW and marks[b, u] != TAIL and not anc[a, b]:
                    anc[a, b] = True
                    stack[top] = b
                    top += 1


@njit(cache=True)
def _depth2_first(marks, root, allowed, first):
    cnt = 0
    for w in range(marks.shape[0]):
        if marks[root, w] != NONE and allowed[w] and w != root:
            first[cnt] = w
            cnt += 1
    return cnt


@njit(cache=True)
def _mixed_keys(marks, root, allowed, first, nf, out):
    """Sorted keys u * size + v of the dist-3 pairs {a, w} of ``depth2_pairs``."""
    size = marks.shape[0]
    cnt = 0
    for p in range(nf):
        a = first[p]
        if marks[a, root] != ARROW:
            continue
        for w in range(size):
            if allowed[w] and marks[root, w] == NONE and w != root and marks[a, w] == ARROW:
                u, v = (a, w) if a < w else (w, a)
                out[cnt] = u * size + v
                cnt += 1
    out[:cnt] = np.sort(out[:cnt])
    return cnt


@njit(cache=True)
def iteration_r2(marks, nodes, R, bounds, legacy, ov_keys, ov_dec, n_ov, unsure, log):
    """ICD's r = 2 (``icd_candidates.Candidates`` with ``depth2_pairs`` and ``first_independent_rows``):
    pairs (i < j) ascending; the candidates of a pair are the depth-2 legal pairs of i,
    then of j, by dist sum (i's dist 2, j's dist 2, i's dist 3, j's dist 3), first
    occurrences only, all members possible ancestors of i or j; tested in that order up
    to the first independence. ``log[t] = (i, j, u, v)``. Returns (deletions, tests,
    any candidate, status)."""
    size = marks.shape[0]
    A = np.empty((4, 6))
    zs = np.empty(2, np.int64)
    anc = np.zeros((size, size), np.bool_)
    anc_ok = False
    allowed = np.zeros(size, np.bool_)
    stamp = np.zeros((size, size), np.int64)
    first_i = np.empty(size, np.int64)
    first_j = np.empty(size, np.int64)
    keys = np.empty(size * size, np.int64)
    n_del = 0
    tests = 0
    anyc = False
    pair_no = 0
    for ii in range(len(nodes)):
        i = nodes[ii]
        for jj in range(ii + 1, len(nodes)):
            j = nodes[jj]
            if marks[i, j] == NONE:
                continue
            if not anc_ok:
                possible_ancestors(marks, nodes, anc)
                anc_ok = True
            n_allowed = 0
            for w in range(size):
                allowed[w] = (anc[w, i] or anc[w, j]) and w != i and w != j
                if allowed[w]:
                    n_allowed += 1
            if n_allowed < 2:
                continue
            pair_no += 1
            nfi = _depth2_first(marks, i, allowed, first_i)
            nfj = _depth2_first(marks, j, allowed, first_j)
            hit_u = -1
            hit_v = -1
            tested = 0
            status = OK
            for seg in range(4):
                if seg == 0 or seg == 1:
                    first = first_i if seg == 0 else first_j
                    nf = nfi if seg == 0 else nfj
                    nk = 0
                    for p in range(nf):
                        for q in range(p + 1, nf):
                            keys[nk] = first[p] * size + first[q]
                            nk += 1
                else:
                    root = i if seg == 2 else j
                    first = first_i if seg == 2 else first_j
                    nf = nfi if seg == 2 else nfj
                    nk = _mixed_keys(marks, root, allowed, first, nf, keys)
                for t in range(nk):
                    u = keys[t] // size
                    v = keys[t] % size
                    if stamp[u, v] == pair_no:
                        continue
                    stamp[u, v] = pair_no
                    tested += 1
                    zs[0] = u
                    zs[1] = v
                    d = _test(R, i, j, zs, 2, bounds, legacy, A, ov_keys, ov_dec, n_ov, unsure)
                    if d == UNSURE:
                        status = ABORT
                        break
                    if d == INDEP:
                        hit_u = u
                        hit_v = v
                        break
                if status == ABORT or hit_u >= 0:
                    break
            if status == ABORT:
                return n_del, tests, anyc, ABORT
            if tested == 0:
                continue
            anyc = True
            tests += tested
            if hit_u >= 0:
                pp = (marks[i, j] != ARROW and marks[j, i] != TAIL) or (marks[j, i] != ARROW and marks[i, j] != TAIL)
                marks[i, j] = NONE
                marks[j, i] = NONE
                if pp:
                    anc_ok = False
                log[n_del, 0] = i
                log[n_del, 1] = j
                log[n_del, 2] = hit_u
                log[n_del, 3] = hit_v
                n_del += 1
    return n_del, tests, anyc, OK


# --- orientation ----------------------------------------------------------------------
@njit(cache=True)
def _in_sep(sep_len, sep_buf, x, y, z):
    n = sep_len[x, y]
    for c in range(n):
        if sep_buf[x, y, c] == z:
            return True
    return False


@njit(cache=True)
def v_structures(marks, nodes, sep_len, sep_buf):
    """R0 (``orientation.orient_v_structures``): x *-> z <-* y for non-adjacent
    neighbours x != y of z with z not in sepset(x, y); writes only arrowheads at z."""
    n = len(nodes)
    size = marks.shape[0]
    adj = marks != NONE
    isnode = np.zeros(size, np.bool_)
    for a in nodes:
        isnode[a] = True
    for z in nodes:
        for x in nodes:
            if not adj[z, x]:
                continue
            for y in nodes:
                if y != x and adj[z, y] and not adj[x, y] and not _in_sep(sep_len, sep_buf, x, y, z):
                    marks[z, x] = ARROW
                    break
    return n


@njit(cache=True)
def _rule_1(marks, nodes, adj, A, C):
    changed = False
    size = marks.shape[0]
    for b in nodes:
        na = 0
        nc = 0
        for w in range(size):
            m = marks[b, w]
            if m == ARROW:
                A[na] = w
                na += 1
            elif m == CIRCLE:
                C[nc] = w
                nc += 1
        if na == 0 or nc == 0:
            continue
        for t in range(nc):
            c = C[t]
            for s in range(na):
                if not adj[A[s], c]:
                    marks[b, c] = TAIL
                    marks[c, b] = ARROW
                    changed = True
                    break
    return changed


@njit(cache=True)
def _rule_2(marks, nodes, adj, A, C, flag):
    changed = False
    size = marks.shape[0]
    for b in nodes:  # case (1): a *-> b --> c
        na = 0
        nc = 0
        for w in range(size):
            if marks[b, w] == ARROW:
                A[na] = w
                na += 1
            if marks[b, w] == TAIL and marks[w, b] == ARROW:
                C[nc] = w
                nc += 1
        if na == 0 or nc == 0:
            continue
        for t in range(nc):
            for s in range(na):
                if marks[C[t], A[s]] == CIRCLE:
                    marks[C[t], A[s]] = ARROW
                    changed = True
    for c in nodes:  # case (2): a --> b *-> c
        nb = 0
        for w in range(size):
            if marks[c, w] == ARROW:
                A[nb] = w
                nb += 1
        if nb == 0:
            continue
        for a in range(size):
            flag[a] = False
            if marks[c, a] != CIRCLE:
                continue
            for s in range(nb):
                b = A[s]
                if marks[b, a] == ARROW and marks[a, b] == TAIL:
                    flag[a] = True
                    break
        for a in range(size):
            if flag[a]:
                marks[c, a] = ARROW
                changed = True
    return changed


@njit(cache=True)
def _rule_3(marks, nodes, adj, A, C):
    changed = False
    size = marks.shape[0]
    for b in nodes:
        nd = 0
        for w in range(size):
            if marks[b, w] == CIRCLE:
                C[nd] = w
                nd += 1
        for t in range(nd):
            d = C[t]
            na = 0
            for w in range(size):
                if marks[b, w] == ARROW and marks[d, w] == CIRCLE:
                    A[na] = w
                    na += 1
            if na < 2:
                continue
            found = False
            for p in range(na):
                for q in range(p + 1, na):
                    if not adj[A[p], A[q]]:
                        found = True
                        break
                if found:
                    break
            if found:
                marks[b, d] = ARROW
                changed = True
    return changed


@njit(cache=True)
def _disc_source(marks, adj, a0, b, c, masks, deeper, ndeep, pos, cur):
    """``orientation.discriminating_path_source`` without recursion: frames keep their
    own allowed mask, their 'deeper' list and how far it was walked. -1 for None."""
    size = marks.shape[0]
    for w in range(size):
        has = False
        for v in range(size):
            if adj[w, v]:
                has = True
                break
        masks[0, w] = has
    masks[0, a0] = False
    masks[0, b] = False
    masks[0, c] = False
    depth = 0
    cur[0] = a0
    # scan frame 0
    while True:
        # entering frame `depth` (scan not yet done when pos == -1)
        if pos[depth] == -1:
            a = cur[depth]
            nd = 0
            for d in range(size):
                if marks[a, d] == ARROW and masks[depth, d]:
                    if not adj[d, c]:
                        return d
                    if marks[c, d] == ARROW and marks[d, c] == TAIL and marks[d, a] == ARROW:
                        deeper[depth, nd] = d
                        nd += 1
            ndeep[depth] = nd
            pos[depth] = 0
        if pos[depth] < ndeep[depth]:
            d = deeper[depth, pos[depth]]
            pos[depth] += 1
            for w in range(size):
                masks[depth + 1, w] = masks[depth, w]
            masks[depth + 1, d] = False
            depth += 1
            cur[depth] = d
            pos[depth] = -1
        else:
            if depth == 0:
                return -1
            depth -= 1


@njit(cache=True)
def _rule_4(marks, nodes, adj, sep_len, sep_buf, C, P, masks, deeper, ndeep, pos, cur):
    changed = False
    size = marks.shape[0]
    for b in nodes:
        nc = 0
        for w in range(size):
            if marks[b, w] == CIRCLE:
                C[nc] = w
                nc += 1
        for t in range(nc):
            c = C[t]
            npar = 0
            for w in range(size):
                if marks[c, w] == ARROW and marks[w, c] == TAIL:
                    P[npar] = w
                    npar += 1
            for s in range(npar):
                a = P[s]
                if marks[a, b] != ARROW:
                    continue
                pos[0] = -1
                d = _disc_source(marks, adj, a, b, c, masks, deeper, ndeep, pos, cur)
                if d < 0:
                    continue
                x, y = (d, c) if d < c else (c, d)
                if _in_sep(sep_len, sep_buf, x, y, b):
                    marks[c, b] = ARROW
                    marks[b, c] = TAIL
                else:
                    marks[a, b] = ARROW
                    marks[b, a] = ARROW
                    marks[c, b] = ARROW
                    marks[b, c] = ARROW
                changed = True
    return changed


@njit(cache=True)
def orient_r1_r4(marks, nodes, sep_len, sep_buf):
    """``orientation.orient_fixpoint(marks, nodes, sepsets, (1, 2, 3, 4))``: passes of
    R1, R2, R3, R4 until one changes no mark. Returns the passes, or -1 without a
    fixpoint within MAX_PASSES."""
    size = marks.shape[0]
    adj = marks != NONE
    A = np.empty(size, np.int64)
    C = np.empty(size, np.int64)
    P = np.empty(size, np.int64)
    flag = np.zeros(size, np.bool_)
    masks = np.zeros((size + 1, size), np.bool_)
    deeper = np.empty((size + 1, size), np.int64)
    ndeep = np.zeros(size + 1, np.int64)
    pos = np.zeros(size + 1, np.int64)
    cur = np.zeros(size + 1, np.int64)
    before = marks.copy()
    for n_pass in range(1, MAX_PASSES + 1):
        before[:, :] = marks
        _rule_1(marks, nodes, adj, A, C)
        _rule_2(marks, nodes, adj, A, C, flag)
        _rule_3(marks, nodes, adj, A, C)
        _rule_4(marks, nodes, adj, sep_len, sep_buf, C, P, masks, deeper, ndeep, pos, cur)
        same = True
        for a in range(size):
            for b in range(size):
                if before[a, b] != marks[a, b]:
                    same = False
                    break
            if not same:
                break
        if same:
            return n_pass
    return -1


# --- r >= 3: PDS trees and their legal subsets ------------------------------------------
@njit(cache=True)
def pds_tree(marks, root, max_depth, node, depth, parent, skel):
    """``pds_tree.build_pds_tree`` one queue pop at a time (the reference's order; the
    Python version processes whole layers with the same result). Fills the occurrence
    arrays (entry 0 is the root) and returns their number."""
    size = marks.shape[0]
    for a in range(size):
        for b in range(size):
            skel[a, b] = marks[a, b] != NONE and a != root and b != root
    node[0] = root
    depth[0] = 0
    parent[0] = -1
    n = 1
    for w in range(size):
        if marks[root, w] != NONE:
            node[n] = w
            depth[n] = 1
            parent[n] = 0
            n += 1
    t = 1
    while t < n:
        d = depth[t]
        if d >= max_depth:
            break  # BFS order: every later occurrence is at least as deep
        cur = node[t]
        prev = node[parent[t]]
        arrow_prev = marks[cur, prev] == ARROW
        for w in range(size):
            if not skel[cur, w] or w == prev:
                continue
            if marks[prev, w] != NONE or (arrow_prev and marks[cur, w] == ARROW):
                skel[cur, w] = False
                skel[w, cur] = False
                node[n] = w
                depth[n] = d + 1
                parent[n] = t
                n += 1
        t += 1
    return n


@njit(cache=True)
def _legal_sets(node, depth, parent, n_occ, allowed, k, size):
    """``icd_candidates.legal_subsets_within`` on occurrence arrays: (rows of ascending
    nodes (m, k), dist sums, ok). ok is False where the bit-mask enumeration does not
    apply (more than 62 labels or an overflowing sort key); the caller then uses Python."""
    empty = np.zeros((0, k), np.int64)
    empty_d = np.zeros(0, np.int64)
    mind = np.full(size, -1, np.int64)
    for t in range(1, n_occ):
        if mind[node[t]] < 0:
            mind[node[t]] = depth[t]
    keep = np.zeros(n_occ, np.bool_)
    keep[0] = True
    is_label = np.zeros(size, np.bool_)
    for t in range(1, n_occ):
        keep[t] = allowed[node[t]] and keep[parent[t]]
        if keep[t]:
            is_label[node[t]] = True
    lab_of = np.full(size, -1, np.int64)
    labels = np.empty(size, np.int64)
    L = 0
    for v in range(size):
        if is_label[v]:
            lab_of[v] = L
            labels[L] = v
            L += 1
    if L < k:
        return empty, empty_d, True
    if L > 62:
        return empty, empty_d, False
    chain = np.zeros(n_occ, np.int64)
    own = np.zeros(n_occ, np.int64)
    for t in range(1, n_occ):
        if keep[t]:
            own[t] = np.int64(1) << lab_of[node[t]]
            p = parent[t]
            if p > 0:
                chain[t] = chain[p] | own[p]
    level = np.zeros(1, np.int64)
    for _ in range(k):
        cap = len(level) * n_occ
        grown = np.empty(max(cap, 1), np.int64)
        m = 0
        for s in range(len(level)):
            S = level[s]
            for t in range(1, n_occ):
                if keep[t] and (chain[t] & ~S) == 0 and (own[t] & S) == 0:
                    grown[m] = S | own[t]
                    m += 1
        if m == 0:
            return empty, empty_d, True
        g = np.sort(grown[:m])
        u = 1
        for s in range(1, m):
            if g[s] != g[u - 1]:
                g[u] = g[s]
                u += 1
        level = g[:u].copy()
    m = len(level)
    sets = np.empty((m, k), np.int64)
    dist = np.zeros(m, np.int64)
    key = np.empty(m, np.int64)
    max_d = 0
    for t in range(1, n_occ):
        if depth[t] > max_d:
            max_d = depth[t]
    # key = dist * L**k + lexicographic digits: must fit in int63
    lim = 1.0 * (k * max_d + 1)
    for _ in range(k):
        lim *= L
    if lim > 9.0e18:
        return empty, empty_d, False
    for s in range(m):
        S = level[s]
        c = 0
        lex = 0
        for b in range(L):
            if (S >> b) & 1:
                sets[s, c] = labels[b]
                dist[s] += mind[labels[b]]
                lex = lex * L + b
                c += 1
        key[s] = dist[s]
        for _ in range(k):
            key[s] *= L
        key[s] += lex
    order = np.argsort(key)
    return sets[order], dist[order], True


@njit(cache=True)
def _root_sets(marks, root, r, allowed, node, depth, parent, skel):
    size = marks.shape[0]
    has = False
    for w in range(size):
        if marks[root, w] != NONE and allowed[w]:
            has = True
            break
    if not has:
        return np.zeros((0, r), np.int64), np.zeros(0, np.int64), True
    n_occ = pds_tree(marks, root, r, node, depth, parent, skel)
    return _legal_sets(node, depth, parent, n_occ, allowed, r, size)


@njit(cache=True)
def iteration_tree(marks, nodes, R, r, start, bounds, legacy, ov_keys, ov_dec, n_ov, unsure, log):
    """ICD's r >= 3 (``icd_candidates.Candidates`` with trees rebuilt per pair, which the Python
    cache only avoids): candidates of i then j merged by dist sum (stable), first
    occurrences only, tested in order up to the first independence. ``log[t] = (i, j,
    z_1..z_r)``. Returns (deletions, tests, any candidate, pair to do in Python or -1,
    status); pairs before linear index ``start`` (ii * |nodes| + jj) are skipped, and a
    pair the bit masks cannot handle stops the kernel (status OK, pair >= 0). Needs
    marks.shape[0] <= MAX_TREE_SIZE (node sets are de-duplicated as nine 63-bit words)."""
    size = marks.shape[0]
    A = np.empty((r + 2, r + 4))
    zs = np.empty(r, np.int64)
    anc = np.zeros((size, size), np.bool_)
    anc_ok = False
    allowed = np.zeros(size, np.bool_)
    cap = 2 * size * size + 2
    node = np.empty(cap, np.int64)
    depth = np.empty(cap, np.int64)
    parent = np.empty(cap, np.int64)
    skel = np.zeros((size, size), np.bool_)
    words = np.zeros(9, np.int64)
    n_del = 0
    tests = 0
    anyc = False
    for ii in range(len(nodes)):
        i = nodes[ii]
        for jj in range(ii + 1, len(nodes)):
            j = nodes[jj]
            if marks[i, j] == NONE or ii * len(nodes) + jj < start:
                continue
            if not anc_ok:
                possible_ancestors(marks, nodes, anc)
                anc_ok = True
            n_allowed = 0
            for w in range(size):
                allowed[w] = (anc[w, i] or anc[w, j]) and w != i and w != j
                if allowed[w]:
                    n_allowed += 1
            if n_allowed < r:
                continue
            si, di, oki = _root_sets(marks, i, r, allowed, node, depth, parent, skel)
            sj, dj, okj = _root_sets(marks, j, r, allowed, node, depth, parent, skel)
            if not (oki and okj):
                return n_del, tests, anyc, ii * len(nodes) + jj, OK
            m = len(si) + len(sj)
            if m == 0:
                continue
            anyc = True
            # merge by dist (stable: i's rows before j's at equal dist), then test first occurrences
            pi = 0
            pj = 0
            seen = dict()
            hit = -1
            tested = 0
            status = OK
            while pi < len(si) or pj < len(sj):
                take_i = pj >= len(sj) or (pi < len(si) and di[pi] <= dj[pj])
                if take_i:
                    row = si[pi]
                    pi += 1
                else:
                    row = sj[pj]
                    pj += 1
                for c in range(9):
                    words[c] = 0
                for c in range(r):
                    words[row[c] // 63] |= np.int64(1) << (row[c] % 63)
                kk = (words[0], words[1], words[2], words[3], words[4], words[5], words[6], words[7], words[8])
                if kk in seen:
                    continue
                seen[kk] = True
                tested += 1
                for c in range(r):
                    zs[c] = row[c]
                d = _test(R, i, j, zs, r, bounds, legacy, A, ov_keys, ov_dec, n_ov, unsure)
                if d == UNSURE:
                    status = ABORT
                    break
                if d == INDEP:
                    hit = 1
                    break
            if status == ABORT:
                return n_del, tests, anyc, -1, ABORT
            tests += tested
            if hit > 0:
                pp = (marks[i, j] != ARROW and marks[j, i] != TAIL) or (marks[j, i] != ARROW and marks[i, j] != TAIL)
                marks[i, j] = NONE
                marks[j, i] = NONE
                if pp:
                    anc_ok = False
                log[n_del, 0] = i
                log[n_del, 1] = j
                for c in range(r):
                    log[n_del, 2 + c] = zs[c]
                n_del += 1
    return n_del, tests, anyc, -1, OK


# --- R5-R10 ------------------------------------------------------------------------------
BUDGET = 3  # status: an uncovered-path search exceeded MAX_PATH_STEPS (err = x, y, nx, ny)


@njit(cache=True)
def _can_finish(adj, cond, y, ny, prev, t, through, seen, queue):
    """``orientation._can_finish``: can the partial path ..., prev, t be completed when
    revisits of ``through`` are allowed? Search over (previous, current) states."""
    size = adj.shape[0]
    seen[:, :] = False
    seen[prev, t] = True
    queue[0, 0] = prev
    queue[0, 1] = t
    head = 0
    tail = 1
    while head < tail:
        p = queue[head, 0]
        u = queue[head, 1]
        head += 1
        if cond[u, ny] and not adj[u, y] and not adj[p, ny]:
            return True
        for w in range(size):
            if adj[u, w] and cond[u, w] and through[w] and not adj[p, w] and not seen[u, w]:
                seen[u, w] = True
                queue[tail, 0] = u
                queue[tail, 1] = w
                tail += 1
    return False


@njit(cache=True)
def uncovered(adj, x, y, nx, ny, cond, allowed, path, masks, kids, nkids, kpos, seen, queue, limits):
    """``orientation.uncovered_path``: length of the inner path written to ``path``
    (0 = none, -1 = MAX_PATH_STEPS exceeded). Same search order, pruning and step count."""
    size = adj.shape[0]
    if nx == ny:
        path[0] = nx
        return 1
    for w in range(size):
        masks[0, w] = allowed[w]
    masks[0, x] = False
    masks[0, y] = False
    masks[0, nx] = False
    masks[0, ny] = False
    if cond[nx, ny] and not adj[nx, y] and not adj[x, ny]:
        path[0] = nx
        path[1] = ny
        return 2
    path[0] = nx
    top = 0  # index of the last path node; its candidate list is kids[top]
    nk = 0
    for w in range(size):
        if adj[nx, w] and masks[0, w] and cond[nx, w] and not adj[x, w]:
            kids[0, nk] = w
            nk += 1
    nkids[0] = nk
    kpos[0] = 0
    steps = 0
    while top >= 0:
        if kpos[top] >= nkids[top]:
            top -= 1
            continue
        t = kids[top, kpos[top]]
        kpos[top] += 1
        prev = path[top]
        if t == ny:
            path[top + 1] = t
            return top + 2
        for w in range(size):
            masks[top + 1, w] = masks[top, w]
        masks[top + 1, t] = False
        steps += 1
        if steps > limits[0]:
            return -1
        if cond[t, ny] and not adj[t, y] and not adj[prev, ny]:
            path[top + 1] = t
            path[top + 2] = ny
            return top + 3
        if steps > limits[1]:
            if not _can_finish(adj, cond, y, ny, prev, t, masks[top + 1], seen, queue):
                continue
        top += 1
        path[top] = t
        nk = 0
        for w in range(size):
            if adj[t, w] and masks[top, w] and cond[t, w] and not adj[prev, w]:
                kids[top, nk] = w
                nk += 1
        nkids[top] = nk
        kpos[top] = 0
    return 0


@njit(cache=True)
def orient_r5_r10(marks, nodes, batch, err, limits):
    """``orientation.orient_fixpoint`` for the batch (5, 6, 7) (``batch`` 5) or (8, 9, 10)
    (``batch`` 8, with the R9 'no path' and R10 path memos of that fixpoint). Returns
    (passes, status): status BUDGET with ``err`` = (x, y, nx, ny) when an uncovered-path
    search exceeded ``limits[0]`` steps (``orientation.MAX_PATH_STEPS``; pruning starts after
    ``limits[1]`` = ``orientation._PRUNE_AFTER``), NO_FIXPOINT after MAX_PASSES."""
    size = marks.shape[0]
    adj = marks != NONE
    everyone = np.zeros(size, np.bool_)
    for a in nodes:
        everyone[a] = True
    path = np.empty(size + 2, np.int64)
    masks = np.zeros((size + 1, size), np.bool_)
    kids = np.empty((size + 1, size), np.int64)
    nkids = np.zeros(size + 1, np.int64)
    kpos = np.zeros(size + 1, np.int64)
    seen = np.zeros((size, size), np.bool_)
    queue = np.empty((size * size + 1, 2), np.int64)
    circ = np.zeros((size, size), np.bool_)
    pp = np.zeros((size, size), np.bool_)
    r9_failed = np.zeros((size, size), np.bool_)
    memo = dict()
    memo[(-1, -1, -1, -1)] = False
    lst_a = np.empty(size, np.int64)
    lst_b = np.empty(size, np.int64)
    edges = np.empty((size * size, 2), np.int64)
    sel = np.zeros(size, np.bool_)
    before = marks.copy()
    for n_pass in range(1, MAX_PASSES + 1):
        before[:, :] = marks
        if batch == 5:
            # R5
            ne = 0
            for a in range(size):
                for b in range(size):
                    circ[a, b] = marks[a, b] == CIRCLE and marks[b, a] == CIRCLE
            for a in range(size):
                for b in range(size):
                    if circ[a, b]:
                        edges[ne, 0] = a
                        edges[ne, 1] = b
                        ne += 1
            for e in range(ne):
                a = edges[e, 0]
                b = edges[e, 1]
                na = 0
                for w in range(size):
                    if circ[a, w] and not adj[b, w] and w != b:
                        lst_a[na] = w
                        na += 1
                nb = 0
                for w in range(size):
                    if circ[b, w] and not adj[a, w] and w != a:
                        lst_b[nb] = w
                        nb += 1
                for p in range(na):
                    for q in range(nb):
                        ln = uncovered(adj, a, b, lst_a[p], lst_b[q], circ, everyone, path, masks, kids, nkids, kpos,
                                       seen, queue, limits)
                        if ln < 0:
                            err[0] = a
                            err[1] = b
                            err[2] = lst_a[p]
                            err[3] = lst_b[q]
                            return n_pass, BUDGET
                        if ln == 0:
                            continue
                        marks[a, b] = TAIL
                        marks[b, a] = TAIL
                        u = a
                        for s in range(ln + 1):
                            v = path[s] if s < ln else b
                            if adj[u, v]:
                                marks[u, v] = TAIL
                                marks[v, u] = TAIL
                            u = v
                        for s in range(size):
                            for t in range(size):
                                circ[s, t] = marks[s, t] == CIRCLE and marks[t, s] == CIRCLE
            # R6
            for b in nodes:
                has = False
                for w in range(size):
                    if marks[b, w] == TAIL and marks[w, b] == TAIL:
                        has = True
                        break
                if has:
                    for w in range(size):
                        if marks[b, w] == CIRCLE:
                            marks[b, w] = TAIL
            # R7
            for b in nodes:
                na = 0
                for w in range(size):
                    if marks[b, w] == CIRCLE and marks[w, b] == TAIL:
                        lst_a[na] = w
                        na += 1
                if na == 0:
                    continue
                for c in range(size):
                    sel[c] = False
                    if marks[b, c] != CIRCLE:
                        continue
                    for p in range(na):
                        if lst_a[p] != c and not adj[lst_a[p], c]:
                            sel[c] = True
                            break
                for c in range(size):
                    if sel[c]:
                        marks[b, c] = TAIL
        else:
            # R8
            for b in nodes:
                na = 0
                nc = 0
                for w in range(size):
                    m = marks[b, w]
                    if (m == ARROW or m == CIRCLE) and marks[w, b] == TAIL:
                        lst_a[na] = w
                        na += 1
                    if m == TAIL and marks[w, b] == ARROW:
                        lst_b[nc] = w
                        nc += 1
                for p in range(na):
                    for q in range(nc):
                        a = lst_a[p]
                        c = lst_b[q]
                        if marks[a, c] == CIRCLE and marks[c, a] == ARROW:
                            marks[a, c] = TAIL
            # R9 (returns after its first change)
            for s in range(size):
                for t in range(size):
                    pp[s, t] = marks[s, t] != NONE and marks[s, t] != ARROW and marks[t, s] != TAIL
            done9 = False
            for a in nodes:
                nc = 0
                for w in range(size):
                    if marks[a, w] == CIRCLE and marks[w, a] == ARROW:
                        lst_a[nc] = w
                        nc += 1
                for q in range(nc):
                    c = lst_a[q]
                    if r9_failed[a, c]:
                        continue
                    found = False
                    for b in range(size):
                        if not pp[a, b] or adj[c, b] or b == c or b == a:
                            continue
                        for d in range(size):
                            if not pp[d, c] or not everyone[d] or d == a or d == b or d == c:
                                continue
                            ln = uncovered(adj, a, c, b, d, pp, everyone, path, masks, kids, nkids, kpos, seen, queue, limits)
                            if ln < 0:
                                err[0] = a
                                err[1] = c
                                err[2] = b
                                err[3] = d
                                return n_pass, BUDGET
                            if ln > 0:
                                found = True
                                break
                        if found:
                            break
                    if found:
                        marks[a, c] = TAIL
                        done9 = True
                        break
                    r9_failed[a, c] = True
                if done9:
                    break
            # R10 (returns after its first change)
            for s in range(size):
                for t in range(size):
                    pp[s, t] = marks[s, t] != NONE and marks[s, t] != ARROW and marks[t, s] != TAIL
            done10 = False
            for c in nodes:
                n_a = 0
                for w in range(size):
                    if marks[w, c] == CIRCLE and marks[c, w] == ARROW:
                        lst_a[n_a] = w
                        n_a += 1
                if n_a == 0:
                    continue
                nbd = 0
                for w in range(size):
                    if marks[w, c] == TAIL and marks[c, w] == ARROW:
                        lst_b[nbd] = w
                        nbd += 1
                if nbd < 2:
                    continue
                for p in range(n_a):
                    a = lst_a[p]
                    nk = 0
                    for w in range(size):
                        if pp[a, w] and w != c:
                            kids[size, nk] = w  # the last row of kids is free: paths never reach depth size
                            nk += 1
                    if nk < 2:
                        continue
                    kid = kids[size, :nk].copy()
                    usable = np.zeros(nk, np.bool_)
                    any_usable = False
                    for e in range(nk):
                        for f in range(nk):
                            if e != f and not adj[kid[e], kid[f]]:
                                usable[e] = True
                                any_usable = True
                                break
                    if not any_usable:
                        continue
                    to_b = np.zeros(nk, np.bool_)
                    to_d = np.zeros(nk, np.bool_)
                    for ib in range(nbd):
                        for idd in range(ib + 1, nbd):
                            b = lst_b[ib]
                            d = lst_b[idd]
                            anyb = False
                            for e in range(nk):
                                to_b[e] = False
                                if usable[e]:
                                    key = (a, c, kid[e], b)
                                    if key in memo:
                                        to_b[e] = memo[key]
                                    else:
                                        ln = uncovered(adj, a, c, kid[e], b, adj, everyone, path, masks, kids, nkids,
                                                       kpos, seen, queue, limits)
                                        if ln < 0:
                                            err[0] = a
                                            err[1] = c
                                            err[2] = kid[e]
                                            err[3] = b
                                            return n_pass, BUDGET
                                        memo[key] = ln > 0
                                        to_b[e] = ln > 0
                                anyb = anyb or to_b[e]
                            if not anyb:
                                continue
                            for f in range(nk):
                                to_d[f] = False
                                if usable[f]:
                                    key = (a, c, kid[f], d)
                                    if key in memo:
                                        to_d[f] = memo[key]
                                    else:
                                        ln = uncovered(adj, a, c, kid[f], d, adj, everyone, path, masks, kids, nkids,
                                                       kpos, seen, queue, limits)
                                        if ln < 0:
                                            err[0] = a
                                            err[1] = c
                                            err[2] = kid[f]
                                            err[3] = d
                                            return n_pass, BUDGET
                                        memo[key] = ln > 0
                                        to_d[f] = ln > 0
                            hit = False
                            for e in range(nk):
                                if not to_b[e]:
                                    continue
                                for f in range(nk):
                                    if to_d[f] and e != f and not adj[kid[e], kid[f]]:
                                        hit = True
                                        break
                                if hit:
                                    break
                            if hit:
                                marks[a, c] = TAIL
                                done10 = True
                                break
                        if done10:
                            break
                    if done10:
                        break
                if done10:
                    break
        same = True
        for a in range(size):
            for b in range(size):
                if before[a, b] != marks[a, b]:
                    same = False
                    break
            if not same:
                break
        if same:
            return n_pass, OK
    return MAX_PASSES, NO_FIXPOINT
