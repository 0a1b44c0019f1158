"""Explain one sample over several attention heads: learn each head's graph, then search.

Why a module of its own: a sample's explanation is the best set over all its heads, and
how the heads are searched decides most of the cost (model rows). Three modes:

- ``head``: every head searched on its own to its own minimal size (the reference, one
  ``search_tree`` per head; golden semantics).
- ``sample``: all heads size by size together, stop after the first size at which any
  head has a hit (``search_trees_together``); every head keeps its hits of that size.
- ``first`` (corpus default): first hit. At each size the candidates of all heads are
  merged into one list in the order below, de-duplicated by token positions, and sent to
  the model in chunks (``chunk_rows`` first, each further chunk of the size twice the last,
  up to ``CHUNK_GROWTH`` times); the search stops after the first chunk with a hit, and
  (``stop_ratio``) before size 3 when sizes 1-2 barely moved the decision.

**Rank 0 ("ranks first across heads").** Among all accepted sets of all heads (each head's
sets in its own reference order), the best is the one with the smallest key
``(size, dist_sum, head, index)``: size = number of graph nodes, dist_sum = the sum of the
nodes' minimal depths in *that head's* PDS tree, head = the head's place in the ascending
head list, index = the set's place in that head's reference order (dist sum, then
lexicographic). ``first`` walks candidates in exactly that key order, so its first hit is
the exhaustive modes' rank 0 whenever both searched that size completely (no budget cut).
De-duplication keeps the first occurrence of a set of positions; a verdict depends only on
the positions, so it never changes which key is smallest among the accepted ones.

All modes share one verdict cache per sample (heads propose many of the same sets) and a
model-row budget: a tester call that would run more than ``max_model_rows`` distinct rows
is refused (``ModelRowBudgetExceeded``) and the sample's status becomes ``budget``; so does
a first-hit search ended by its stop rule (``SearchStopped``, see :func:`first_hit`).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from cleann.causal.explain import LearnedGraph, learn_graph
from cleann.causal.pds_tree import PDSTree, Subset, build_pds_tree
from cleann.causal.search import search_tree, search_trees_together
from cleann.errors import BadInputError

SEARCHES = ("head", "sample", "first")
FIRST_HIT_CHUNK = 16  # rows per tester call in ``first`` mode (measured: docs/engine.md)
CHUNK_GROWTH = 4  # within a size, chunks grow 16, 32, 64, 64, ... rows (measured: docs/engine.md)
STOP_FROM_SIZE = 3  # the stop rule is asked before this size and every larger one
TOP_ATTENDED = 10  # most-attended positions kept per head (attention itself is not stored)

ModelTester = Callable[[list[tuple[int, ...]]], Sequence[bool]]


class ModelRowBudgetExceeded(Exception):
    """The sample's search needed more model rows than ``max_model_rows`` allows."""

    def __init__(self, used: int, wanted: int, limit: int):
        super().__init__(f"model-row budget of {limit} reached ({used} rows run, {wanted} more needed)")
        self.used, self.wanted, self.limit = used, wanted, limit


class SearchStopped(Exception):
    """The first-hit search's stop rule ended the sample before its size limit."""

    def __init__(self, size: int, closest: float, original: float, ratio: float):
        super().__init__(f"stopped before size {size}: no removal of up to {size - 1} nodes brought the output's "
                         f"lead below {closest:.2f} logits, {closest / original:.0%} of its original {original:.2f} "
                         f"(stop rule: > {ratio:g} of it)")
        self.size, self.closest, self.original, self.ratio = size, closest, original, ratio


class Verdicts:
    """One sample's model verdicts by token positions: cache, row count, time, budget.

    Why: a verdict depends only on the sample and the removed positions, and different heads
    propose many of the same sets (the target's direct neighbours), so each distinct set
    costs one model row per sample instead of one per head. ``leads`` keeps, per row, how far
    the original output stayed ahead (when the tester reports it: ``tester.leads``), which
    the first-hit search's stop rule reads.
    """

    def __init__(self, tester: ModelTester, max_rows: int | None = None):
        self.tester = tester
        self.max_rows = max_rows
        self.cache: dict[tuple[int, ...], bool] = {}
        self.leads: dict[tuple[int, ...], float] = {}
        lead = getattr(tester, "original_lead", None)
        self.original_lead = None if lead is None else float(lead)  # the unmodified input's lead
        self.rows = 0  # distinct position sets run through the model
        self.calls = 0  # tester calls (one per chunk / size batch)
        self.seconds = 0.0
        self._until_hit = _accepts_keyword(tester, "until_hit")

    def remaining(self) -> int | None:
        return None if self.max_rows is None else max(0, self.max_rows - self.rows)

    def __call__(self, positions: Sequence[tuple[int, ...]], until_hit: bool = False) -> list[bool | None]:
        """Verdicts for ``positions``. ``until_hit``: the caller stops at the first True in
        this order, so the tester may leave later verdicts unsettled (None, not cached)."""
        new = list(dict.fromkeys(p for p in positions if p not in self.cache))
        if new:
            if self.max_rows is not None and self.rows + len(new) > self.max_rows:
                raise ModelRowBudgetExceeded(self.rows, len(new), self.max_rows)
            t0 = time.perf_counter()
            raw = self.tester(new, until_hit=True) if until_hit and self._until_hit else self.tester(new)
            answers = [None if v is None else bool(v) for v in raw]
            self.seconds += time.perf_counter() - t0
            if len(answers) != len(new):
                raise BadInputError(f"tester returned {len(answers)} answers for {len(new)} candidates")
            self.cache.update((p, v) for p, v in zip(new, answers) if v is not None)
            leads = getattr(self.tester, "leads", None)
            if leads:
                self.leads.update((p, float(leads[p])) for p in new if p in leads)
            self.rows += len(new)
            self.calls += 1
        return [self.cache.get(p) for p in positions]


def _accepts_keyword(fn: Callable, name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


class TimedTester:
    """A head's view of the sample's verdicts: node sets -> token positions, counted."""

    def __init__(self, verdicts: Verdicts, to_positions: Callable[[Sequence[int]], tuple[int, ...]]):
        self.verdicts = verdicts
        self.to_positions = to_positions
        self.calls = 0  # node sets this head handed over

    def __call__(self, candidates: list[Subset]) -> list[bool]:
        self.calls += len(candidates)
        return self.verdicts([self.to_positions(c) for c in candidates])


@dataclass
class HeadOutcome:
    """One head's graph and explanation sets: (rank, positions, size, dist_sum, flipped_to, rep_rank)."""

    head: int
    n_nodes: int
    edges: list[tuple[int, int, str, str]]
    sets: list[tuple[int, tuple[int, ...], int, int, int | None, int | None]]
    n_candidates: int
    tester_calls: int
    graph_s: float
    search_s: float
    tester_s: float
    top_attended: list[int] = field(default_factory=list)


@dataclass
class HeadGraph:
    """One head, planned and learned: what the search needs from it."""

    head: int
    matrix: np.ndarray  # the head's [L, L] attention (for top_attended)
    plan: object  # NodePlan: attention, target, nodes, to_positions, representative
    graph: LearnedGraph
    tree: PDSTree
    tree_s: float


@dataclass
class SampleSearch:
    """What searching one sample's heads found and cost."""

    heads: list[HeadGraph]
    results: list[list[tuple[Subset, int]]]  # per head: accepted (node set, dist_sum)
    tester_calls: list[int]  # per head: node sets whose verdict the search asked for
    status: str  # "ok" (some set found), "not_found" (all allowed sizes searched), "budget"
    reason: str | None
    rows: int  # distinct rows run through the model
    graph_s: float
    search_s: float  # tree building + candidate enumeration + bookkeeping, tester excluded
    tester_s: float

    def ranked(self) -> list[tuple[tuple[int, int, int, int], int, int, tuple[int, ...]]]:
        """Every accepted set as ``(key, head index, rank, positions)`` best first, with
        ``key = (size, dist_sum, head, rank)`` (the module's definition of rank 0)."""
        out = []
        for h, (hg, res) in enumerate(zip(self.heads, self.results)):
            for rank, (node_set, dist) in enumerate(res, start=1):
                out.append(((len(node_set), int(dist), hg.head, rank), h, rank, hg.plan.to_positions(node_set)))
        out.sort(key=lambda item: item[0])
        return out


def learn_heads(heads: Sequence[tuple[int, np.ndarray, object]], *, num_samples: int, alpha: float = 0.01,
                learner: str = "icd", legacy_negative_pcorr: bool = False, max_cond_size: int | None = None,
                max_range: int | None = None) -> list[HeadGraph]:
    """Learn the graph and the target's PDS tree of every ``(head, matrix, plan)``."""
    out = []
    for head, matrix, plan in heads:
        graph = learn_graph(plan.attention, nodes=plan.nodes, num_samples=num_samples, alpha=alpha, learner=learner,
                            legacy_negative_pcorr=legacy_negative_pcorr, max_cond_size=max_cond_size)
        if plan.target not in graph.pag.nodes:
            raise BadInputError(f"target {plan.target} is not one of the graph's nodes")
        depth = len(graph.pag.nodes) - 1 if max_range is None else max_range
        t0 = time.perf_counter()
        tree = build_pds_tree(graph.pag, plan.target, depth)
        out.append(HeadGraph(head, matrix, plan, graph, tree, time.perf_counter() - t0))
    return out


def first_hit(heads: Sequence[HeadGraph], verdicts: Verdicts, *, max_set_size: int | None = None,
              chunk_rows: int = FIRST_HIT_CHUNK, calls: list[int] | None = None,
              stop_ratio: float | None = None) -> tuple[int, Subset, int] | None:
    """The first accepted set in the key order ``(size, dist_sum, head, index)``, as
    ``(head index, node set, dist_sum)``, or None when no set of the allowed sizes is accepted.

    ``calls`` (per head, filled in place) counts the sets whose verdict was read. Raises
    ``ModelRowBudgetExceeded`` when the next chunk does not fit the budget; what is left of
    the budget is used first, so a hit within the budget is still found.

    ``stop_ratio`` (the stop rule): before searching a size k >= ``STOP_FROM_SIZE`` (3),
    give up (raise :class:`SearchStopped`) when no row run so far brought the original
    output's lead (its logit minus the best other's, the tester's ``leads``) below
    ``stop_ratio`` times its lead on the unmodified input (``tester.original_lead``).
    Why: a sample whose removals of 1 and 2 nodes barely moved the decision rarely flips
    with a third, and size 3 is where the rows go (bench/search_curve.py; docs/engine.md,
    "Default search limits"). Testers without leads are never stopped. The rule only ends
    searches early: every set it lets the search find is the same rank 0.
    """
    if max_set_size is not None and max_set_size < 0:
        raise BadInputError(f"max_set_size must be >= 0 or None, got {max_set_size}")
    if chunk_rows < 1:
        raise BadInputError(f"chunk_rows must be >= 1, got {chunk_rows}")
    calls = [0] * len(heads) if calls is None else calls
    active = [True] * len(heads)
    k = 0
    while max_set_size is None or k < max_set_size:
        k += 1
        keys, head_sets = [], []
        for h, hg in enumerate(heads):
            if not active[h]:
                continue
            sets, dist = hg.tree.legal_subset_arrays(k)
            if not len(sets):  # no legal set of size k means none of any larger size
                active[h] = False
                continue
            keys.append(np.stack([dist, np.full(len(sets), h), np.arange(len(sets))], axis=1))
            head_sets.append((h, sets))
        if not keys:
            return None
        original = verdicts.original_lead
        if stop_ratio is not None and k >= STOP_FROM_SIZE and verdicts.leads and original and original > 0:
            closest = min(verdicts.leads.values())
            if closest > stop_ratio * original:
                raise SearchStopped(k, closest, original, stop_ratio)
        key = np.concatenate(keys)
        order = np.lexsort((key[:, 2], key[:, 1], key[:, 0]))  # dist sum, then head, then own order
        offsets = np.cumsum([0] + [len(s) for _, s in head_sets])
        part = np.searchsorted(offsets, order, side="right") - 1
        entries: list[tuple[int, Subset, int, tuple[int, ...]]] = []  # (head, set, dist, positions), lazily

        def entry(i: int) -> tuple[int, Subset, int, tuple[int, ...]]:
            while len(entries) <= i:
                g, p = int(order[len(entries)]), int(part[len(entries)])
                h, sets = head_sets[p]
                node_set = tuple(int(x) for x in sets[g - offsets[p]])
                entries.append((h, node_set, int(key[g, 0]), heads[h].plan.to_positions(node_set)))
            return entries[i]

        i, total, chunk = 0, len(order), chunk_rows
        while i < total:
            while i < total:  # read the verdicts already known, in order
                h, node_set, dist, positions = entry(i)
                verdict = verdicts.cache.get(positions)
                if verdict is None:
                    break
                calls[h] += 1
                i += 1
                if verdict:
                    return h, node_set, dist
            pending: dict[tuple[int, ...], None] = {}  # the next chunk: distinct unknown sets, in order
            j = i
            while j < total and len(pending) < chunk:
                positions = entry(j)[3]
                if positions not in verdicts.cache:
                    pending[positions] = None
                j += 1
            batch = list(pending)
            remaining = verdicts.remaining()
            if remaining is not None and 0 < remaining < len(batch):
                batch = batch[:remaining]
            if batch:
                verdicts(batch, until_hit=True)  # raises ModelRowBudgetExceeded when nothing of the budget is left
            # Each chunk of a size without a hit doubles the next one, up to CHUNK_GROWTH x: a
            # sample that needs many rows gets them in larger, cheaper calls (bench/search_curve.py).
            chunk = min(2 * chunk, CHUNK_GROWTH * chunk_rows)
    return None


def search_heads(heads: Sequence[HeadGraph], verdicts: Verdicts, *, search: str = "first",
                 max_set_size: int | None = None, chunk_rows: int = FIRST_HIT_CHUNK,
                 stop_ratio: float | None = None) -> SampleSearch:
    """Search the learned heads of one sample in mode ``search`` (see the module doc);
    ``stop_ratio`` is the first-hit search's stop rule (:func:`first_hit`)."""
    if search not in SEARCHES:
        raise BadInputError(f"search {search!r}: use one of {', '.join(SEARCHES)}")
    t0 = time.perf_counter()
    tester_before = verdicts.seconds
    results: list[list[tuple[Subset, int]]] = [[] for _ in heads]
    calls = [0] * len(heads)
    status, reason = "ok", None
    timed = [TimedTester(verdicts, hg.plan.to_positions) for hg in heads]
    try:
        if search == "head":
            for h, hg in enumerate(heads):
                found = search_tree(hg.tree, timed[h], max_set_size=max_set_size)
                results[h], calls[h] = found.results, found.tester_calls
        elif search == "sample":
            def joint(cands: list[tuple[int, Subset]]) -> list[bool]:
                return verdicts([heads[h].plan.to_positions(s) for h, s in cands])

            for h, found in enumerate(search_trees_together([hg.tree for hg in heads], joint,
                                                            max_set_size=max_set_size)):
                results[h], calls[h] = found.results, found.tester_calls
        else:
            hit = first_hit(heads, verdicts, max_set_size=max_set_size, chunk_rows=chunk_rows, calls=calls,
                            stop_ratio=stop_ratio)
            if hit is not None:
                results[hit[0]] = [(hit[1], hit[2])]
    except (ModelRowBudgetExceeded, SearchStopped) as exc:
        status, reason = "budget", str(exc)
        calls = [max(c, t.calls) for c, t in zip(calls, timed)]
    if status == "ok" and not any(results):
        status = "not_found"
        reason = f"no set of up to {max_set_size} nodes changes the output" if max_set_size is not None \
            else "no set of any size changes the output"
    tester_s = verdicts.seconds - tester_before
    search_s = time.perf_counter() - t0 - tester_s + sum(hg.tree_s for hg in heads)
    return SampleSearch(list(heads), results, calls, status, reason, verdicts.rows,
                        graph_s=sum(hg.graph.seconds for hg in heads), search_s=max(0.0, search_s), tester_s=tester_s)


def head_outcomes(found: SampleSearch, target: int, accepted_detail: Callable[[tuple[int, ...]], tuple]
                  ) -> list[HeadOutcome]:
    """Per-head rows for the store; ``accepted_detail(positions) -> (flipped_to, rep_rank)``.

    Timing per head: its own graph seconds; search and tester seconds of the joint search
    are split evenly over the heads (their sum is the sample's).
    """
    n = max(1, len(found.heads))
    out = []
    for hg, res, calls in zip(found.heads, found.results, found.tester_calls):
        plan = hg.plan
        sets = []
        for rank, (node_set, dist) in enumerate(res, start=1):
            positions = plan.to_positions(node_set)
            flipped, rep_rank = accepted_detail(positions)
            sets.append((rank, positions, len(node_set), int(dist), flipped, rep_rank))
        edges = [(plan.representative(i), plan.representative(j), mi, mj) for i, j, mi, mj in hg.graph.pag.edges()]
        out.append(HeadOutcome(
            head=hg.head, n_nodes=len(hg.graph.pag.nodes), edges=edges, sets=sets,
            n_candidates=len(hg.tree.candidates), tester_calls=int(calls), graph_s=hg.graph.seconds,
            search_s=found.search_s / n, tester_s=found.tester_s / n,
            top_attended=[int(p) for p in _top_attended(hg.matrix, target, TOP_ATTENDED)],
        ))
    return out


def _top_attended(attention: np.ndarray, target: int, k: int) -> np.ndarray:
    scores = attention[target].astype(np.float64).copy()
    scores[target] = -np.inf
    return np.argsort(-scores, kind="stable")[: max(0, min(k, len(scores) - 1))]
