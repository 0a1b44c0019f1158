"""The worker's job for one batch: infer, explain each sample with CLEANN, stage rows.

Why here and not in the flow: this is plain Python (testable without Prefect) and it
touches only the staging folder, never the database. The explaining itself is the
``cleann`` explainer class (``cleann.explainers.cleann``, search in ``cleann.causal``),
the same one the evaluation runs. A sample that fails for a permanent reason becomes a
``status='failed'`` row with its reason; transient errors (I/O, memory) propagate so the
orchestrator retries the whole batch, which is safe because the batch's staged files have
deterministic names. A sample whose search reaches the model-row budget is not a failure:
it is stored with ``explain_status='budget'`` and the reason.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cleann.errors import BadInputError
from cleann.explainers.base import Explainer, Explanation, Sample
from cleann.explainers.cleann import Cleann
from cleann.pipeline.backends import SampleView, get_backend
from cleann.pipeline.params import ExplainParams
from cleann.pipeline.rows import BatchRows
from cleann.pipeline.staging import Staging

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
) -> str:
    """Run one staged input batch end to end; returns the staged manifest path.

    ``explainer``: a CLEANN explainer to use instead of the one ``params`` describe (tests).
    """
    frame = staging.read_input(batch_id)
    backend = backend or get_backend(params.corpus_kind, model_path, device)
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
