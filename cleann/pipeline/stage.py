"""The worker's job for one batch: infer, learn a graph and search per sample x head, stage rows.

Why here and not in the flow: this is plain Python (testable without Prefect) and it
touches only the staging folder, never the database. A sample that fails for a
permanent reason becomes a ``status='failed'`` row with its reason; transient errors
(I/O, memory) propagate so the orchestrator retries the whole batch, which is safe
because the batch's staged files have deterministic names.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from cleann.errors import BadInputError
from cleann.pipeline.backends import SampleView, get_backend
from cleann.pipeline.nodes import head_matrices, plan_nodes, top_attended
from cleann.pipeline.params import ExplainParams
from cleann.pipeline.rows import BatchRows, HeadOutcome
from cleann.pipeline.staging import Staging

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OSError, MemoryError, TimeoutError, ConnectionError)
# OSErrors that fail the same way on every try: recorded as the sample's failure, never retried.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError)


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: I/O, memory, timeouts, connections, but not a missing or forbidden file."""
    return isinstance(exc, TRANSIENT_ERRORS) and not isinstance(exc, PERMANENT_ERRORS)
Explainer = Callable[..., Any]
TOP_ATTENDED = 10  # most-attended positions kept per head (attention itself is not stored)


def default_explainer() -> Explainer:
    from cleann.causal.explain import explain_attention

    return explain_attention


class TimedTester:
    """Wraps the model's batched tester for one head: node sets -> token positions, timing,
    and a verdict cache shared by all heads of the sample.

    Why the cache: a verdict depends only on the sample and the removed positions, and
    different heads propose many of the same sets (the target's direct neighbours), so
    each distinct set costs one forward-pass slot per sample instead of one per head.
    """

    def __init__(self, tester: Callable, to_positions: Callable[[tuple[int, ...]], tuple[int, ...]],
                 cache: dict[tuple[int, ...], bool] | None = None):
        self.tester = tester
        self.to_positions = to_positions
        self.cache = {} if cache is None else cache
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, candidates: list[tuple[int, ...]]) -> list[bool]:
        t0 = time.perf_counter()
        positions = [self.to_positions(c) for c in candidates]
        new = list(dict.fromkeys(p for p in positions if p not in self.cache))
        if new:
            self.cache.update(zip(new, (bool(v) for v in self.tester(new))))
        self.seconds += time.perf_counter() - t0
        self.calls += len(candidates)
        return [self.cache[p] for p in positions]


def accepted_detail(tester: Any, positions: tuple[int, ...]) -> tuple[int | None, int | None]:
    """(flipped_to, replacement_rank) the model tester recorded for an accepted set."""
    outcome = (getattr(tester, "accepted", None) or {}).get(tuple(positions))
    if outcome is None:
        return None, None
    flipped = getattr(outcome, "new_class", None)
    if flipped is None:
        flipped = getattr(outcome, "new_top1", None)
    rank = getattr(outcome, "rank_in_original_topk", None)
    return (None if flipped is None else int(flipped)), (None if rank is None else int(rank))


def _outcome(head: int, plan, matrix: np.ndarray, view: SampleView, tester: Callable, pag, results,
             n_candidates: int, tester_calls: int, graph_s: float, search_s: float, tester_s: float) -> HeadOutcome:
    sets = []
    for rank, (node_set, dist) in enumerate(results, start=1):
        positions = plan.to_positions(node_set)
        flipped, rep_rank = accepted_detail(tester, positions)
        sets.append((rank, positions, len(node_set), int(dist), flipped, rep_rank))
    edges = [(plan.representative(i), plan.representative(j), mi, mj) for i, j, mi, mj in pag.edges()]
    return HeadOutcome(
        head=head, n_nodes=len(plan.nodes) if plan.nodes is not None else plan.attention.shape[0],
        edges=edges, sets=sets, n_candidates=n_candidates, tester_calls=tester_calls,
        graph_s=graph_s, search_s=max(0.0, search_s), tester_s=tester_s,
        top_attended=[int(p) for p in top_attended(matrix, view.target, TOP_ATTENDED)],
    )


def explain_view(
    view: SampleView,
    tester: Callable,
    params: ExplainParams,
    num_samples: int,
    explainer: Explainer,
) -> list[HeadOutcome]:
    """All requested heads of one sample (``params.search`` decides how heads are searched)."""
    if params.search == "sample":
        return _explain_view_together(view, tester, params, num_samples)
    outcomes = []
    verdicts: dict[tuple[int, ...], bool] = {}
    for head, matrix in head_matrices(view.attention, params.heads):
        plan = plan_nodes(matrix, view.target, params.nodes, view.word_ids)
        timed = TimedTester(tester, plan.to_positions, verdicts)
        t0 = time.perf_counter()
        exp = explainer(
            plan.attention, plan.target, timed, nodes=plan.nodes, num_samples=num_samples,
            alpha=params.alpha, learner=params.learner, legacy_negative_pcorr=params.legacy_negative_pcorr,
            max_set_size=params.max_set_size, max_range=params.max_range, max_cond_size=params.max_cond_size,
        )
        total = time.perf_counter() - t0
        graph_s = float(getattr(exp, "seconds_graph", 0.0))
        search_s = float(getattr(exp, "seconds_search", total - graph_s))
        outcomes.append(_outcome(
            head, plan, matrix, view, tester, exp.pag, exp.results,
            n_candidates=len(getattr(exp, "candidates", ()) or ()),
            tester_calls=int(getattr(exp, "tester_calls", timed.calls)),
            graph_s=graph_s, search_s=search_s - timed.seconds, tester_s=timed.seconds))
    return outcomes


def _explain_view_together(view: SampleView, tester: Callable, params: ExplainParams,
                           num_samples: int) -> list[HeadOutcome]:
    """``search='sample'``: learn every head's graph, then search all heads size by size
    together (``search_trees_together``), one batched tester call per size."""
    from cleann.causal.explain import learn_graph
    from cleann.causal.pds_tree import build_pds_tree
    from cleann.causal.search import search_trees_together

    heads, plans, graphs, trees, tree_s = [], [], [], [], []
    for head, matrix in head_matrices(view.attention, params.heads):
        plan = plan_nodes(matrix, view.target, params.nodes, view.word_ids)
        graph = learn_graph(plan.attention, nodes=plan.nodes, num_samples=num_samples, alpha=params.alpha,
                            learner=params.learner, legacy_negative_pcorr=params.legacy_negative_pcorr,
                            max_cond_size=params.max_cond_size)
        if plan.target not in graph.pag.nodes:
            raise BadInputError(f"target {plan.target} is not one of the graph's nodes")
        depth = len(graph.pag.nodes) - 1 if params.max_range is None else params.max_range
        t0 = time.perf_counter()
        trees.append(build_pds_tree(graph.pag, plan.target, depth))
        tree_s.append(time.perf_counter() - t0)
        heads.append((head, matrix))
        plans.append(plan)
        graphs.append(graph)
    timed = TimedTester(tester, lambda positions: positions)

    def joint(cands: list[tuple[int, tuple[int, ...]]]) -> list[bool]:
        return timed([plans[h].to_positions(node_set) for h, node_set in cands])

    t0 = time.perf_counter()
    found = search_trees_together(trees, joint, max_set_size=params.max_set_size)
    search_s = (time.perf_counter() - t0 - timed.seconds) / max(1, len(trees))
    tester_s = timed.seconds / max(1, len(trees))
    return [
        _outcome(head, plan, matrix, view, tester, graph.pag, res.results, n_candidates=len(res.candidates),
                 tester_calls=res.tester_calls, graph_s=graph.seconds, search_s=search_s + t_s, tester_s=tester_s)
        for (head, matrix), plan, graph, res, t_s in zip(heads, plans, graphs, found, tree_s)
    ]


def _validate(kind: str, item: Any) -> None:
    if kind == "imdb":
        if item is None or not str(item).strip():
            raise BadInputError("empty text")
    elif item is None or len(item) == 0:
        raise BadInputError("empty history")


def _infer_isolating(backend, inputs: list[Any], ids: list[str], batch_size: int, max_length: int):
    """Batched inference; if the batch fails, per sample, so one bad input fails alone."""
    try:
        return dict(zip(ids, backend.infer(inputs, batch_size, max_length))), {}
    except Exception as batch_exc:  # noqa: BLE001 - transient ones re-raised just below
        if is_transient(batch_exc):
            raise
        views, errors = {}, {}
        for sid, item in zip(ids, inputs):
            try:
                views[sid] = backend.infer([item], 1, max_length)[0]
            except Exception as exc:  # noqa: BLE001 - recorded as the sample's failure
                if is_transient(exc):
                    raise
                errors[sid] = exc
        return views, errors


def process_batch(
    staging: Staging,
    batch_id: str,
    params: ExplainParams,
    model_path: str,
    *,
    infer_batch_size: int = 16,
    explainer: Explainer | None = None,
    backend: Any | None = None,
    store_attention: bool = False,
) -> str:
    """Run one staged input batch end to end; returns the staged manifest path."""
    explainer = explainer or default_explainer()
    frame = staging.read_input(batch_id)
    backend = backend or get_backend(params.corpus_kind, model_path)
    num_samples = params.num_samples or backend.hidden_size
    column = "text" if params.corpus_kind == "imdb" else "history"
    ids = [str(s) for s in frame["sample_id"]]
    labels = dict(zip(ids, frame["label"]))
    rows = BatchRows(staging.run_id, batch_id)

    errors: dict[str, Exception] = {}
    valid_ids, valid_inputs = [], []
    for sid, item in zip(ids, frame[column]):
        try:
            _validate(params.corpus_kind, item)
            valid_ids.append(sid)
            valid_inputs.append(list(item) if column == "history" else str(item))
        except BadInputError as exc:
            errors[sid] = exc

    t0 = time.perf_counter()
    views, infer_errors = _infer_isolating(backend, valid_inputs, valid_ids, infer_batch_size, params.max_length)
    errors.update(infer_errors)
    infer_s = (time.perf_counter() - t0) / max(1, len(valid_ids))

    for sid in ids:
        if sid in errors:
            rows.add_failed(sid, labels[sid], errors[sid])
            continue
        view = views[sid]
        if store_attention:
            staging.write_attention(sid, view.attention)
        try:
            tester = backend.tester(view, params.removal)
            outcomes = explain_view(view, tester, params, num_samples, explainer)
            passes = getattr(tester, "forward_passes", None)
            rows.add_done(sid, labels[sid], view, outcomes, infer_s, passes, getattr(tester, "rows", None))
        except Exception as exc:  # noqa: BLE001 - a permanent per-sample failure
            if is_transient(exc):
                raise
            rows.add_failed(sid, labels[sid], exc, view=view, infer_s=infer_s)
    return staging.write_batch(batch_id, rows.frames(), ids)
