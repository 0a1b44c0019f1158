"""PAG orientation rules R0-R10 exactly as the reference implements them (FORMAT §7).

Why "as implemented" and not as in the paper: with finite samples the rules conflict and
the last write wins, so the scan order, which sets are snapshots and which are live,
and quirks such as R9/R10 returning after their first change decide the result. Each
rule below states the reference's scan (nodes ascending, the ascending-iteration
contract of FORMAT §9) and vectorises only where the order provably cannot matter
(writes that do not feed the rule's own conditions for the node being scanned).

All functions work in place on ``marks`` (``marks[a, b]`` = mark at a on edge a-b, 0 =
not adjacent) and take ``nodes`` as an ascending int array. Adjacency never changes
while orienting (R0-R10 only change marks), so ``adj`` is computed once per call.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from cleann.causal.pag import ARROW, CIRCLE, NONE, TAIL

Sepsets = Mapping[tuple[int, int], tuple[int, ...]]
_MAX_PASSES = 10_000  # the reference has no bound; a real PAG needs a handful of passes
_R0_CELLS = 1 << 22  # booleans per block of R0's (z, x, y) tensor (4 MB)


def _sep(sepsets: Sepsets, x: int, y: int) -> tuple[int, ...]:
    return sepsets.get((x, y) if x < y else (y, x), ())


def possible_parent_matrix(marks: np.ndarray) -> np.ndarray:
    """``pp[p, c]``: p is a possible parent of c (adjacent, no arrowhead at p, no tail at c)."""
    return (marks != NONE) & (marks != ARROW) & (marks.T != TAIL)


def possible_ancestors(marks: np.ndarray) -> np.ndarray:
    """``anc[a, b]``: a possibly-directed path a -> ... -> b exists (FORMAT §7).

    Transitive closure of the possible-parent relation by repeated squaring (boolean
    matrix products), instead of the reference's recursive search per query.
    """
    reach = possible_parent_matrix(marks).astype(np.float32)
    n = reach.shape[0]
    if n == 0:
        return reach.astype(bool)
    steps = 1
    while steps < n:
        nxt = np.minimum(reach + reach @ reach, 1.0)
        if np.array_equal(nxt, reach):
            break
        reach = nxt
        steps *= 2
    return reach > 0


# --- R0 -----------------------------------------------------------------------------
def orient_v_structures(marks: np.ndarray, nodes: np.ndarray, sepsets: Sepsets) -> None:
    """R0: x *-> z <-* y for non-adjacent neighbours x, y of z with z not in sepset(x, y).

    Writes only arrowheads at z, which no condition reads, so order cannot matter: a
    boolean tensor ``v[z, x, y]`` over the node sub-graph (in blocks of centres z to
    bound memory), minus the sepset triples.
    """
    nodes = np.asarray(nodes, dtype=np.intp)
    n = nodes.size
    if n < 3:
        return
    adj = marks[np.ix_(nodes, nodes)] != NONE
    nonadj = ~adj
    np.fill_diagonal(nonadj, False)
    pos = np.full(marks.shape[0], -1, dtype=np.intp)
    pos[nodes] = np.arange(n)
    triples = np.array([(z, x, y) for (x, y), sep in sepsets.items() for z in sep], dtype=np.intp).reshape(-1, 3)
    triples = pos[triples]
    triples = triples[(triples >= 0).all(axis=1)]
    block = max(1, _R0_CELLS // (n * n))
    for z0 in range(0, n, block):
        zs = slice(z0, min(n, z0 + block))
        v = adj[zs, :, None] & adj[zs, None, :] & nonadj[None, :, :]
        t = triples[(triples[:, 0] >= z0) & (triples[:, 0] < zs.stop)]
        v[t[:, 0] - z0, t[:, 1], t[:, 2]] = False
        v[t[:, 0] - z0, t[:, 2], t[:, 1]] = False
        zi, xi = np.nonzero(v.any(axis=2))
        marks[nodes[zi + z0], nodes[xi]] = ARROW


# --- R1-R4 --------------------------------------------------------------------------
# Each rule first asks a vectorised necessary condition (boolean matrix products over the
# whole graph): most calls inside a fixpoint change nothing, and the screen answers "no"
# in microseconds where the reference-order scan below costs a Python loop over nodes.
# A screen never changes a result: when it says "maybe", the exact scan runs as before.
def _f(mask: np.ndarray) -> np.ndarray:
    return mask.astype(np.float32)


def _directed(marks: np.ndarray) -> np.ndarray:
    """``d[a, b]``: a --> b (tail at a, arrowhead at b)."""
    return (marks == TAIL) & (marks.T == ARROW)


def _may_apply_1(marks: np.ndarray, adj: np.ndarray) -> bool:
    return bool(((_f(marks == ARROW) @ _f(~adj)) > 0)[marks == CIRCLE].any())


def _may_apply_2(marks: np.ndarray) -> bool:
    circ = marks == CIRCLE
    if not circ.any():
        return False
    arrow, d = _f(marks == ARROW), _f(_directed(marks))
    return bool(((d.T @ arrow) > 0)[circ].any() or ((arrow @ d.T) > 0)[circ].any())


def _may_apply_3(marks: np.ndarray, adj: np.ndarray) -> bool:
    bs, ds = np.nonzero(marks == CIRCLE)
    if bs.size == 0:
        return False
    arrow, circ = marks == ARROW, marks == CIRCLE
    shared = _f(arrow[bs] & circ[ds])  # candidates for a and c, per (b, d)
    nonadj = ~adj
    np.fill_diagonal(nonadj, False)
    return bool((((shared @ _f(nonadj)) * shared).sum(axis=1) > 0).any())


def _may_apply_4(marks: np.ndarray) -> bool:
    arrow = marks == ARROW
    two = arrow & (arrow.sum(axis=1) >= 2)[:, None]  # a needs a *-> b and some d *-> a
    return bool(((_f(two).T @ _f(_directed(marks))) > 0)[marks == CIRCLE].any())


def rule_1(marks: np.ndarray, nodes: np.ndarray, adj: np.ndarray, sepsets: Sepsets) -> bool:
    """R1: a *-> b o-* c, a and c non-adjacent => b --> c."""
    changed = False
    if not _may_apply_1(marks, adj):
        return False
    for b in nodes:
        row = marks[b]
        c = np.flatnonzero(row == CIRCLE)
        a = np.flatnonzero(row == ARROW)
        if c.size == 0 or a.size == 0:
            continue
        sel = c[(~adj[np.ix_(a, c)]).any(axis=0)]
        if sel.size:
            marks[b, sel] = TAIL
            marks[sel, b] = ARROW
            changed = True
    return changed


def rule_2(marks: np.ndarray, nodes: np.ndarray, adj: np.ndarray, sepsets: Sepsets) -> bool:
    """R2: (a *-> b --> c or a --> b *-> c) and a *-o c => a *-> c.

    Two full scans as in the reference: case (1) over b, then case (2) over c.
    """
    changed = False
    if not _may_apply_2(marks):
        return False
    for b in nodes:  # case (1): a *-> b --> c
        a = np.flatnonzero(marks[b] == ARROW)
        c = np.flatnonzero((marks[b] == TAIL) & (marks[:, b] == ARROW))
        if a.size == 0 or c.size == 0:
            continue
        sub = marks[np.ix_(c, a)]
        hit = sub == CIRCLE
        if hit.any():
            sub[hit] = ARROW
            marks[np.ix_(c, a)] = sub
            changed = True
    for c in nodes:  # case (2): a --> b *-> c
        b = np.flatnonzero(marks[c] == ARROW)
        if b.size == 0:
            continue
        parents = ((marks[b, :] == ARROW) & (marks[:, b].T == TAIL)).any(axis=0)
        hit = parents & (marks[c] == CIRCLE)
        if hit.any():
            marks[c, hit] = ARROW
            changed = True
    return changed


def rule_3(marks: np.ndarray, nodes: np.ndarray, adj: np.ndarray, sepsets: Sepsets) -> bool:
    """R3: a *-> b <-* c, a *-o d o-* c, a, c non-adjacent, d *-o b => d *-> b.

    Sequential over d: an arrowhead put at b on d-b makes d a candidate 'a' for later d.
    """
    changed = False
    if not _may_apply_3(marks, adj):
        return False
    for b in nodes:
        for d in np.flatnonzero(marks[b] == CIRCLE):
            ac = np.flatnonzero((marks[b] == ARROW) & (marks[d] == CIRCLE))
            if ac.size < 2:
                continue
            if np.triu(~adj[np.ix_(ac, ac)], 1).any():
                marks[b, d] = ARROW
                changed = True
    return changed


def discriminating_path_source(
    marks: np.ndarray, adj: np.ndarray, a: int, b: int, c: int, allowed: np.ndarray | None = None
) -> int | None:
    """Start d of a discriminating path (d, ..., a, b, c) for b, or None (reference's DFS).

    Level by level: any d *-> a not adjacent to c ends the path; otherwise each d with
    d --> c and d <-> a becomes the new 'a' (depth-first, ascending), never revisiting
    a node of the current chain.
    """
    if allowed is None:
        allowed = adj.any(axis=1).copy()
        allowed[[a, b, c]] = False
    cand = np.flatnonzero((marks[a] == ARROW) & allowed)
    deeper = []
    for d in cand.tolist():
        if not adj[d, c]:
            return d
        if marks[c, d] == ARROW and marks[d, c] == TAIL and marks[d, a] == ARROW:
            deeper.append(d)
    for d in deeper:
        sub = allowed.copy()
        sub[d] = False
        found = discriminating_path_source(marks, adj, d, b, c, sub)
        if found is not None:
            return found
    return None


def rule_4(marks: np.ndarray, nodes: np.ndarray, adj: np.ndarray, sepsets: Sepsets) -> bool:
    """R4: discriminating path (d, ..., a, b, c) with b o-* c: b in sepset(d, c) => b --> c,
    else a <-> b <-> c."""
    changed = False
    if not _may_apply_4(marks):
        return False
    for b in nodes:
        for c in np.flatnonzero(marks[b] == CIRCLE).tolist():
            parents = np.flatnonzero((marks[c] == ARROW) & (marks[:, c] == TAIL))
            for a in parents.tolist():
                if marks[a, b] != ARROW:
                    continue
                d = discriminating_path_source(marks, adj, a, int(b), c)
                if d is None:
                    continue
                if b in _sep(sepsets, d, c):
                    marks[c, b] = ARROW
                    marks[b, c] = TAIL
                else:
                    marks[a, b] = ARROW
                    marks[b, a] = ARROW
                    marks[c, b] = ARROW
                    marks[b, c] = ARROW
                changed = True
    return changed


# --- uncovered paths (R5, R9, R10) ----------------------------------------------------
_PRUNE_AFTER = 256  # DFS steps before dead-end pruning starts (cheap searches stay cheap)
MAX_PATH_STEPS = 200_000  # DFS steps of one uncovered-path search before giving up (8.8 s on a real 42-node head, docs/engine.md)


class PathSearchBudgetExceeded(RuntimeError):
    """An uncovered-path search (R5, R9, R10) exceeded ``MAX_PATH_STEPS``.

    Why an error rather than "no path": the answer decides orientations, and the
    reference would run for minutes to hours here (the search is exponential where no
    uncovered path exists but many partial ones do). Guessing would silently change the
    PAG; the pipeline records the sample as failed with this message and goes on.
    """


def _finish_tables(adj: np.ndarray, cond: np.ndarray, y: int, ny: int) -> tuple[np.ndarray, ...]:
    """What :func:`_can_finish` needs that is fixed for one search: allowed steps u -> w,
    finishing states (p, u), and non-adjacent pairs (p, w) as float32 for a matmul."""
    exit_ok = (cond[:, ny] & ~adj[:, y])[None, :] & ~adj[:, ny][:, None]
    return adj & cond, exit_ok, (~adj).astype(np.float32)


def _can_finish(tables: tuple[np.ndarray, ...], prev: int, t: int, through: np.ndarray) -> bool:
    """Whether the partial path ``..., prev, t`` can be completed at all: a search over
    states (last two nodes) that keeps every step condition of the uncovered-path search
    (``cond``, the uncovered triple, the exit test) but allows revisits of ``through``.
    ``tables``: :func:`_finish_tables` of the search.

    Why: it is a relaxation, so False proves that the depth-first search below this
    branch finds nothing, and pruning it leaves the result unchanged. It is stronger than
    plain reachability of ny (it keeps the exit test); on the 42-node head that ran for
    8+ minutes in R10 neither was enough (self-avoidance is what fails there), hence
    also ``MAX_PATH_STEPS``. Ordinary heads: 9.1 ms each with it, 9.3 ms with reachability.
    """
    steps, exit_ok, open_pairs = tables
    step = steps & through[None, :]
    frontier = np.zeros_like(step)
    frontier[prev, t] = True
    seen = frontier.copy()
    while frontier.any():
        if (frontier & exit_ok).any():
            return True
        nxt = (frontier.T.astype(np.float32) @ open_pairs > 0) & step    # (p, u) -> (u, w)
        nxt &= ~seen
        seen |= nxt
        frontier = nxt
    return False


def uncovered_path(
    adj: np.ndarray,
    x: int,
    y: int,
    nx: int,
    ny: int,
    cond: np.ndarray,
    allowed: np.ndarray,
) -> list[int] | None:
    """Inner nodes of an uncovered path <x, nx, ..., ny, y> whose steps satisfy ``cond``.

    The reference's recursive search, quirks included: ``nx == ny`` returns ``[nx]``
    unchecked; the trivial exit needs cond(nx, ny), nx !~ y and x !~ ny; extensions t of
    nx need cond(nx, t) and x !~ t and come from ``allowed`` minus the four end nodes
    (path-local exclusion, no memory across siblings). Depth-first, ascending, so the
    path found is the reference's.

    Why iterative with pruning: the reference's search is exponential when a
    self-avoiding walk traps itself (e.g. sparse triangle-free circle components). After
    ``_PRUNE_AFTER`` steps, an extension t is skipped when the path cannot be finished
    from (prev, t) even with revisits allowed (:func:`_can_finish`); such a branch
    returns None in the reference too, so the result is unchanged.
    """
    if nx == ny:
        return [nx]
    en = allowed.copy()
    en[[x, y, nx, ny]] = False
    if cond[nx, ny] and not adj[nx, y] and not adj[x, ny]:
        return [nx, ny]
    path = [nx]
    masks = [en]
    stack = [np.flatnonzero(adj[nx] & en & cond[nx] & ~adj[x]).tolist()[::-1]]  # pop() = ascending
    steps = 0
    tables = None  # built once, when pruning starts
    while stack:
        if not stack[-1]:
            stack.pop()
            masks.pop()
            path.pop()
            continue
        t = stack[-1].pop()
        prev, parent_en = path[-1], masks[-1]
        if t == ny:
            return [*path, t]
        child_en = parent_en.copy()
        child_en[t] = False
        steps += 1
        if steps > MAX_PATH_STEPS:
            raise PathSearchBudgetExceeded(
                f"uncovered-path search <{x}, {nx}, ..., {ny}, {y}> on a {len(adj)}-node graph "
                f"exceeded {MAX_PATH_STEPS:,} steps (orientation rules R5/R9/R10)")
        if cond[t, ny] and not adj[t, y] and not adj[prev, ny]:
            return [*path, t, ny]
        if steps > _PRUNE_AFTER:
            tables = tables or _finish_tables(adj, cond, y, ny)
            if not _can_finish(tables, prev, t, child_en):
                continue
        path.append(t)
        masks.append(child_en)
        stack.append(np.flatnonzero(adj[t] & child_en & cond[t] & ~adj[prev]).tolist()[::-1])
    return None


def _node_mask(marks: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    mask = np.zeros(marks.shape[0], dtype=bool)
    mask[nodes] = True
    return mask


# --- R5-R7 --------------------------------------------------------------------------
def rule_5(marks: np.ndarray, nodes: np.ndarray, adj: np.ndarray, sepsets: Sepsets) -> bool:
    """R5: a o-o b with an uncovered circle path <a, x, ..., y, b> (x !~ b, y !~ a) turns
    a-b and every edge of the path into ---.

    The edge list (both orders of every o-o edge) is a snapshot; neighbour sets and
    paths are recomputed with current marks, and the search goes on after a success.
    """
    changed = False
    everyone = _node_mask(marks, nodes)
    circ = (marks == CIRCLE) & (marks.T == CIRCLE)
    edges = [(int(a), int(b)) for a, b in zip(*np.nonzero(circ))]  # row-major = ascending a, b
    for a, b in edges:
        na = np.flatnonzero(circ[a] & ~adj[b])
        na = na[na != b]
        nbs = np.flatnonzero(circ[b] & ~adj[a])
        nbs = nbs[nbs != a]
        for x in na.tolist():
            for y in nbs.tolist():
                path = uncovered_path(adj, a, b, x, y, circ, everyone)
                if path is None:
                    continue
                changed = True
                full = [a, *path, b]
                marks[a, b] = marks[b, a] = TAIL
                for u, v in zip(full[:-1], full[1:]):
                    if adj[u, v]:
                        marks[u, v] = marks[v, u] = TAIL
                circ = (marks == CIRCLE) & (marks.T == CIRCLE)
    return changed


def rule_6(marks: np.ndarray, nodes: np.ndarray, adj: np.ndarray, sepsets: Sepsets) -> bool:
    """R6: a --- b o-* c => b --* c."""
    changed = False
    for b in nodes:
        if not ((marks[b] == TAIL) & (marks[:, b] == TAIL)).any():
            continue
        c = marks[b] == CIRCLE
        if c.any():
            marks[b, c] = TAIL
            changed = True
    return changed


def rule_7(marks: np.ndarray, nodes: np.ndarray, adj: np.ndarray, sepsets: Sepsets) -> bool:
    """R7: a --o b o-* c, a and c non-adjacent => b --* c."""
    changed = False
    for b in nodes:
        a = np.flatnonzero((marks[b] == CIRCLE) & (marks[:, b] == TAIL))
        if a.size == 0:
            continue
        c = np.flatnonzero(marks[b] == CIRCLE)
        ok = ~adj[np.ix_(a, c)] & (a[:, None] != c[None, :])
        sel = c[ok.any(axis=0)]
        if sel.size:
            marks[b, sel] = TAIL
            changed = True
    return changed


# --- R8-R10 -------------------------------------------------------------------------
def rule_8(marks: np.ndarray, nodes: np.ndarray, adj: np.ndarray, sepsets: Sepsets) -> bool:
    """R8: (a --> b --> c or a --o b --> c) and a o-> c => a --> c."""
    changed = False
    for b in nodes:
        row = marks[b]
        a = np.flatnonzero(((row == ARROW) | (row == CIRCLE)) & (marks[:, b] == TAIL))
        c = np.flatnonzero((row == TAIL) & (marks[:, b] == ARROW))
        if a.size == 0 or c.size == 0:
            continue
        hit = (marks[np.ix_(a, c)] == CIRCLE) & (marks[np.ix_(c, a)].T == ARROW)
        if hit.any():
            ai, ci = np.nonzero(hit)
            marks[a[ai], c[ci]] = TAIL
            changed = True
    return changed


def rule_9(marks: np.ndarray, nodes: np.ndarray, adj: np.ndarray, sepsets: Sepsets, cache: dict | None = None) -> bool:
    """R9: a o-> c and an uncovered possibly-directed path <a, b, ..., c> with b !~ c =>
    a --> c. Returns after the first change (reference behaviour).

    ``cache`` (given by ``orient_fixpoint`` for the R8-R10 batch only) remembers the
    (a, c) pairs without such a path: R8-R10 only turn a circle into a tail at a on
    a o-> c, which changes neither adjacency nor the possible-parent relation, so those
    pairs stay without a path for the rest of the fixpoint.
    """
    everyone = _node_mask(marks, nodes)
    pp = possible_parent_matrix(marks)
    failed = cache.setdefault("r9_failed", set()) if cache is not None else set()
    for a in nodes.tolist():
        for c in np.flatnonzero((marks[a] == CIRCLE) & (marks[:, a] == ARROW)).tolist():
            if (a, c) in failed:
                continue
            bs = np.flatnonzero(pp[a] & ~adj[c])
            bs = bs[(bs != c) & (bs != a)]
            for b in bs.tolist():
                ds = np.flatnonzero(pp[:, c] & everyone)
                ds = ds[(ds != a) & (ds != b) & (ds != c)]
                for d in ds.tolist():
                    if uncovered_path(adj, a, c, b, d, pp, everyone) is not None:
                        marks[a, c] = TAIL
                        return True
            failed.add((a, c))
    return False


def rule_10(marks: np.ndarray, nodes: np.ndarray, adj: np.ndarray, sepsets: Sepsets, cache: dict | None = None) -> bool:
    """R10: a o-> c, b --> c <-- d, and uncovered paths <a, e, ..., b>, <a, f, ..., d>
    with e != f non-adjacent => a --> c. Paths are checked for adjacency only (reference
    quirk), so their existence depends on adjacency alone and is memoised across calls
    through ``cache``. Returns after the first change."""
    everyone = _node_mask(marks, nodes)
    pp = possible_parent_matrix(marks)
    memo: dict[tuple[int, int, int, int], bool] = cache.setdefault("r10_paths", {}) if cache is not None else {}

    def has_path(x: int, y: int, nx: int, ny: int) -> bool:
        key = (x, y, nx, ny)
        if key not in memo:
            memo[key] = uncovered_path(adj, x, y, nx, ny, adj, everyone) is not None
        return memo[key]

    for c in nodes.tolist():
        a_nodes = np.flatnonzero((marks[:, c] == CIRCLE) & (marks[c] == ARROW)).tolist()
        if not a_nodes:
            continue
        bd = np.flatnonzero((marks[:, c] == TAIL) & (marks[c] == ARROW)).tolist()
        if len(bd) < 2:
            continue
        for a in a_nodes:
            kids = np.flatnonzero(pp[a])
            kids = kids[kids != c]
            if len(kids) < 2:
                continue
            # pairs (e, f) of distinct, non-adjacent possible children: only their e's and f's matter
            pairable = ~adj[np.ix_(kids, kids)]
            np.fill_diagonal(pairable, False)
            usable = kids[pairable.any(axis=1)].tolist()
            if not usable:
                continue
            for i_b in range(len(bd)):
                for i_d in range(i_b + 1, len(bd)):
                    b, d = bd[i_b], bd[i_d]
                    to_b = np.array([e in usable and has_path(a, c, e, b) for e in kids.tolist()])
                    if not to_b.any():
                        continue
                    to_d = np.array([f in usable and has_path(a, c, f, d) for f in kids.tolist()])
                    if (pairable & to_b[:, None] & to_d[None, :]).any():
                        marks[a, c] = TAIL
                        return True
    return False


RULES: dict[int, Callable[..., bool]] = {
    1: rule_1, 2: rule_2, 3: rule_3, 4: rule_4, 5: rule_5,
    6: rule_6, 7: rule_7, 8: rule_8, 9: rule_9, 10: rule_10,
}


def orient_fixpoint(marks: np.ndarray, nodes: np.ndarray, sepsets: Sepsets, rules: Sequence[int]) -> int:
    """Apply ``rules`` in order, pass after pass, until a pass changes no mark.

    The reference repeats while any rule *wrote*; a pass that writes without a net change
    would make it loop forever, so "some mark changed" is the same test wherever the
    reference terminates. Returns the number of passes.
    """
    nodes = np.asarray(nodes, dtype=np.intp)
    adj = marks != NONE
    # memo valid for the whole fixpoint: R8-R10 never change adjacency or possible parents
    cache: dict | None = {} if set(rules) <= {8, 9, 10} else None
    for n_pass in range(1, _MAX_PASSES + 1):
        before = marks.copy()
        for k in rules:
            if k in (9, 10):
                RULES[k](marks, nodes, adj, sepsets, cache)
            else:
                RULES[k](marks, nodes, adj, sepsets)
        if np.array_equal(before, marks):
            return n_pass
    raise RuntimeError(f"orientation rules {list(rules)} did not reach a fixpoint in {_MAX_PASSES} passes")
