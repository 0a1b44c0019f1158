"""The work on one batch: load the model once per process, infer, explain, stage rows.

Why one module: this is everything a worker does between the plan and the load, in the
order it happens. It is plain Python (testable without Prefect) and touches only the
staging folder, never the database.

Back-ends: tasks pass paths, never models; each worker process caches the models it has
loaded (:func:`get_backend`), so a batch costs one load per process. Both back-ends give
batched inference, the target position, the hidden size (CLEANN's N) and a batched
tester; inference, tester and baselines follow the model's ``device``. On a CPU with
native bf16 the text tester runs its rows through a bf16 copy first and re-checks
undecided rows in float32 (:mod:`cleann.models.fast_rows`; same verdicts).

The batch (:func:`process_batch`): explaining is the ``cleann`` explainer class (search
in ``cleann.causal``), the same one the evaluation runs. A sample that fails for a
permanent reason becomes a ``status='failed'`` row with its reason; transient errors
(I/O, memory) propagate so the orchestrator retries the whole batch, which is safe
because staged files have deterministic names. A search that reaches the model-row
budget is not a failure: ``explain_status='budget'`` with the reason.

Rows (:class:`BatchRows`) have explicit Arrow schemas, because an empty pandas column has
no type and a staged file must load into the DuckDB tables the same way every time.
Positions are token positions of the model input (MovieLens: history + appended
predicted item); ``head = -1`` is the head-averaged attention; ``size`` counts graph
nodes (words when words are merged); graph edges name a node by its first token
position. Explanation ``rank >= 1`` are a head's accepted sets in search order;
``rank = 0`` is one extra row per sample, a copy of the best set across heads (smallest
size, then distance sum, then head, then rank), under the head it came from.
``samples.explain_status``: ``ok`` (a set found), ``not_found`` (every allowed size
searched) or ``budget`` (stopped by ``max_model_rows`` or by the first-hit stop rule
``stop_ratio``; ``explain_reason`` says which and where).
With ``search='first'`` only the winning head has explanation rows; the other heads
store their graph and counts (``cleann.causal.multihead``).
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from cleann.causal.multihead import HeadOutcome
from cleann.errors import BadInputError
from cleann.explainers.base import Explainer, Explanation, Sample
from cleann.explainers.cleann import Cleann
from cleann.pipeline.params import ExplainParams

if TYPE_CHECKING:
    from cleann.store.runs import Staging

# --- Model back-ends per corpus kind, loaded once per worker process.

_CACHE: dict[tuple[str, str, str], Any] = {}
_LOCK = threading.Lock()


@dataclass
class SampleView:
    """What the stage needs from one inference, whatever the model kind."""

    attention: np.ndarray  # [H, L, L]
    target: int
    token_ids: np.ndarray
    tokens: list[str]
    word_ids: list[int | None] | None
    special: np.ndarray  # bool [L]
    pred: int
    probs: np.ndarray | None
    truncated: bool
    raw: Any  # the model package's own inference object (for its tester)


class TextBackend:
    kind = "imdb"

    def __init__(self, model_path: str, device: str = "cpu", fast_rows: bool = True, streams: int = 1):
        from cleann.models.device import resolve_device
        from cleann.models.sentiment import load_classifier

        self.device = resolve_device(device)
        self.model, self.tokenizer = load_classifier(model_path)
        self.model.to(self.device)
        self._fast_rows = fast_rows
        self._streams = max(1, int(streams))  # batches running at once on this back-end (threads runner)
        self._fast: Any = None

    @property
    def fast_rows(self):
        """The bf16 copy and its margin for tester rows (CPU only; None on a GPU or when disabled)."""
        with _LOCK:
            if self._fast is None:
                from cleann.models.fast_rows import FastRows, bf16_twin

                twin = bf16_twin(self.model, streams=self._streams) if self._fast_rows else None
                self._fast = FastRows(twin) if twin is not None else False
        return self._fast or None

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    def infer(self, inputs: list[Any], batch_size: int, max_length: int) -> list[SampleView]:
        from cleann.models.sentiment import infer

        out = infer(self.model, self.tokenizer, list(inputs), batch_size=batch_size, max_length=max_length)
        return [
            SampleView(
                attention=np.asarray(r.attention), target=0, token_ids=np.asarray(r.token_ids),
                tokens=list(r.tokens), word_ids=list(r.word_ids), special=np.asarray(r.special_mask, bool),
                pred=int(r.pred), probs=np.asarray(r.probs, dtype=np.float64), truncated=bool(r.truncated), raw=r,
            )
            for r in out
        ]

    def tester(self, view: SampleView, removal: str):
        from cleann.models.sentiment import SentimentTester

        return SentimentTester(self.model, self.tokenizer, view.raw, removal=removal, fast=self.fast_rows)


class RecBackend:
    kind = "movielens"

    def __init__(self, model_path: str, device: str = "cpu"):
        from cleann.models.bert4rec import load_bert4rec
        from cleann.models.device import resolve_device

        self.device = resolve_device(device)
        self.rec = load_bert4rec(model_path)
        self.rec.model.to(self.device)

    @property
    def hidden_size(self) -> int:
        return int(self.rec.hidden_size)

    def infer(self, inputs: list[Any], batch_size: int, max_length: int) -> list[SampleView]:
        from cleann.models.bert4rec import recommend

        histories = [np.asarray(h, dtype=np.int64) for h in inputs]
        out = recommend(self.rec, histories, k=10)
        views = []
        for r in out:
            items = np.concatenate([np.asarray(r.history, dtype=np.int64), np.asarray(r.topk[:1], dtype=np.int64)])
            special = np.zeros(len(items), dtype=bool)
            special[-1] = True
            views.append(SampleView(
                attention=np.asarray(r.attention), target=len(items) - 1, token_ids=items,
                tokens=[str(int(i)) for i in items], word_ids=None, special=special,
                pred=int(r.topk[0]), probs=None, truncated=len(r.history) < len(histories[len(views)]), raw=r,
            ))
        return views

    def tester(self, view: SampleView, removal: str):
        from cleann.models.bert4rec import RecTester

        return RecTester(self.rec, view.raw)


def get_backend(kind: str, model_path: str, device: str = "cpu", streams: int = 1) -> TextBackend | RecBackend:
    """The cached back-end for (kind, model path, device) in this process; ``streams``:
    how many batches use it at once (the text back-end's fast rows run that many in parallel)."""
    from cleann.models.device import resolve_device

    resolved = str(resolve_device(device))
    key = (kind, str(model_path), resolved, int(streams))
    with _LOCK:
        if key not in _CACHE:
            if kind == "imdb":
                _CACHE[key] = TextBackend(str(model_path), device=resolved, streams=streams)
            else:
                _CACHE[key] = RecBackend(str(model_path), device=resolved)
        return _CACHE[key]


# --- The batch: infer, explain each sample, stage its rows.

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OSError, MemoryError, TimeoutError, ConnectionError)
# OSErrors that fail the same way on every try: recorded as the sample's failure, never retried.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError)


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: I/O, memory, timeouts, connections, but not a missing or forbidden file."""
    return isinstance(exc, TRANSIENT_ERRORS) and not isinstance(exc, PERMANENT_ERRORS)


SAMPLE_KIND = {"imdb": "text", "movielens": "rec"}  # corpus kinds -> explainer kinds


def explain_view(view: SampleView, tester: Callable, params: ExplainParams, num_samples: int,
                 explainer: Explainer | None = None, sample_id: str = "") -> Explanation:
    """Explain one inferred sample with the run's CLEANN settings (or ``explainer``)."""
    if not isinstance(explainer, Explainer):
        explainer = Cleann.from_params(params, num_samples)
    return explainer.explain(Sample(sample_id, SAMPLE_KIND[params.corpus_kind], view, tester=tester))


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
    device: str = "cpu",
    streams: int = 1,
) -> str:
    """Run one staged input batch end to end; returns the staged manifest path.

    ``explainer``: a CLEANN explainer to use instead of the one ``params`` describe (tests).
    """
    frame = staging.read_input(batch_id)
    backend = backend or get_backend(params.corpus_kind, model_path, device, streams)
    num_samples = params.num_samples or backend.hidden_size
    explainer = explainer if isinstance(explainer, Explainer) else Cleann.from_params(params, num_samples)
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
            exp = explain_view(view, tester, params, num_samples, explainer, sid)
            passes = getattr(tester, "forward_passes", None)
            rows.add_done(sid, labels[sid], view, exp.detail, infer_s, passes, exp.cost.forward_rows,
                          explain_status=exp.status, explain_reason=exp.reason)
        except Exception as exc:  # noqa: BLE001 - a permanent per-sample failure
            if is_transient(exc):
                raise
            rows.add_failed(sid, labels[sid], exc, view=view, infer_s=infer_s)
    return staging.write_batch(batch_id, rows.frames(), ids)


# --- Rows of one batch, typed the same way whether a batch has many rows or none.

EXPLAINER = "cleann"
STATUS_OK, STATUS_FAILED = "ok", "failed"

SCHEMAS: dict[str, pa.Schema] = {
    "samples": pa.schema([
        ("run_id", pa.string()), ("sample_id", pa.string()), ("label", pa.int64()), ("pred", pa.int64()),
        ("prob", pa.float64()), ("n_tokens", pa.int32()), ("status", pa.string()), ("error", pa.string()),
        ("seconds", pa.float64()), ("stage_seconds", pa.string()), ("probs", pa.list_(pa.float64())),
        ("truncated", pa.bool_()), ("forward_passes", pa.int64()), ("model_rows", pa.int64()), ("best_head", pa.int32()), ("best_size", pa.int32()),
        ("batch_id", pa.string()), ("explain_status", pa.string()), ("explain_reason", pa.string()),
    ]),
    "tokens": pa.schema([
        ("run_id", pa.string()), ("sample_id", pa.string()), ("pos", pa.int32()), ("token_id", pa.int64()),
        ("token", pa.string()), ("word_idx", pa.int32()), ("is_special", pa.bool_()),
    ]),
    "graph_edges": pa.schema([
        ("run_id", pa.string()), ("sample_id", pa.string()), ("head", pa.int32()), ("src", pa.int32()),
        ("dst", pa.int32()), ("mark_src", pa.string()), ("mark_dst", pa.string()),
    ]),
    "explanations": pa.schema([
        ("run_id", pa.string()), ("sample_id", pa.string()), ("head", pa.int32()), ("explainer", pa.string()),
        ("rank", pa.int32()), ("positions", pa.list_(pa.int32())), ("size", pa.int32()),
        ("dist_sum", pa.float64()), ("tester_calls", pa.int32()), ("flipped", pa.bool_()),
        ("flipped_to", pa.int64()), ("replacement_rank", pa.int32()),
    ]),
    "explain_heads": pa.schema([
        ("run_id", pa.string()), ("sample_id", pa.string()), ("head", pa.int32()), ("n_nodes", pa.int32()),
        ("n_edges", pa.int32()), ("n_candidates", pa.int32()), ("tester_calls", pa.int64()),
        ("n_explanations", pa.int32()), ("min_size", pa.int32()), ("graph_s", pa.float64()), ("search_s", pa.float64()),
        ("tester_s", pa.float64()), ("top_attended", pa.list_(pa.int32())),
    ]),
}


@dataclass
class BatchRows:
    run_id: str
    batch_id: str
    _rows: dict[str, list[dict]] = field(default_factory=lambda: {name: [] for name in SCHEMAS})

    def _sample(self, sid: str, label, status: str, error: str | None, view=None, **extra) -> dict:
        probs = None if view is None or view.probs is None else [float(p) for p in view.probs]
        row = {
            "run_id": self.run_id, "sample_id": sid, "label": _int_or_none(label), "status": status,
            "error": error, "batch_id": self.batch_id,
            "pred": None if view is None else int(view.pred),
            "prob": None if probs is None else probs[int(view.pred)],
            "probs": probs, "n_tokens": None if view is None else int(len(view.token_ids)),
            "truncated": None if view is None else bool(view.truncated),
        }
        row.update(extra)
        return row

    def add_failed(self, sid: str, label, exc: BaseException, view=None, infer_s: float | None = None) -> None:
        reason = f"{type(exc).__name__}: {exc}".strip()
        stages = None if infer_s is None else json.dumps({"infer": infer_s})
        self._rows["samples"].append(self._sample(sid, label, STATUS_FAILED, reason[:500], view, stage_seconds=stages))

    def add_done(self, sid: str, label, view, outcomes: list[HeadOutcome], infer_s: float, passes,
                 model_rows: int | None = None, explain_status: str | None = None,
                 explain_reason: str | None = None) -> None:
        self._add_tokens(sid, view)
        best = _best(outcomes)
        for o in outcomes:
            self._rows["explain_heads"].append({
                "run_id": self.run_id, "sample_id": sid, "head": o.head, "n_nodes": o.n_nodes,
                "n_edges": len(o.edges), "n_candidates": o.n_candidates, "tester_calls": o.tester_calls,
                "n_explanations": len(o.sets), "min_size": min((s[2] for s in o.sets), default=None),
                "graph_s": o.graph_s, "search_s": o.search_s, "tester_s": o.tester_s, "top_attended": o.top_attended,
            })
            self._rows["graph_edges"].extend(
                {"run_id": self.run_id, "sample_id": sid, "head": o.head, "src": i, "dst": j,
                 "mark_src": mi, "mark_dst": mj} for i, j, mi, mj in o.edges
            )
            for rank, positions, size, dist, flipped, rep_rank in o.sets:
                row = {
                    "run_id": self.run_id, "sample_id": sid, "head": o.head, "explainer": EXPLAINER,
                    "rank": rank, "positions": list(positions), "size": size, "tester_calls": o.tester_calls,
                    "flipped": True, "flipped_to": flipped, "replacement_rank": rep_rank, "dist_sum": dist,
                }
                self._rows["explanations"].append(row)
                if best == (o.head, rank):
                    self._rows["explanations"].append({**row, "rank": 0})
        graph_s = sum(o.graph_s for o in outcomes)
        search_s = sum(o.search_s for o in outcomes)
        tester_s = sum(o.tester_s for o in outcomes)
        best_size = None if best is None else next(s[2] for o in outcomes if o.head == best[0] for s in o.sets if s[0] == best[1])
        stages = {"infer": infer_s, "graph": graph_s, "search": search_s, "tester": tester_s}
        self._rows["samples"].append(self._sample(
            sid, label, STATUS_OK, None, view, stage_seconds=json.dumps(stages),
            seconds=infer_s + graph_s + search_s + tester_s, forward_passes=_int_or_none(passes),
            model_rows=_int_or_none(model_rows), explain_status=explain_status,
            explain_reason=None if explain_reason is None else str(explain_reason)[:500],
            best_head=None if best is None else best[0], best_size=best_size,
        ))

    def _add_tokens(self, sid: str, view) -> None:
        n = len(view.token_ids)
        word_idx = view.word_ids if view.word_ids is not None else list(range(n))
        self._rows["tokens"].extend(
            {"run_id": self.run_id, "sample_id": sid, "pos": p, "token_id": int(view.token_ids[p]),
             "token": view.tokens[p], "word_idx": word_idx[p], "is_special": bool(view.special[p])}
            for p in range(n)
        )

    def frames(self) -> dict[str, pa.Table]:
        return {name: pa.Table.from_pylist(rows, schema=SCHEMAS[name]) for name, rows in self._rows.items()}


def _best(outcomes: list[HeadOutcome]) -> tuple[int, int] | None:
    """(head, rank) of the best set: smallest size, then dist sum, then head, then rank."""
    keyed = [((size, dist, o.head, rank), (o.head, rank)) for o in outcomes for rank, _, size, dist, _, _ in o.sets]
    return min(keyed)[1] if keyed else None


def _int_or_none(value) -> int | None:
    if value is None:
        return None
    try:
        if np.isnan(value):
            return None
    except TypeError:
        pass
    return int(value)
