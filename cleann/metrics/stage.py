"""The worker's job for one evaluation batch: infer, run baselines, score every explainer.

Why per batch and staged: same contract as the pipeline's stage (touches only the
staging folder; a retried batch overwrites its files), so the same task runners and the
single-writer loader apply. One explainer failing on one sample is recorded as metric
``error`` = 1 for that pair and does not stop the others.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np
import pandas as pd

from cleann.baselines.base import Attribution
from cleann.baselines.inputs import rec_input, text_input
from cleann.baselines.registry import run_baselines
from cleann.metrics.per_sample import evaluate_ranking, evaluate_set
from cleann.metrics.rows import EvalRows
from cleann.metrics.settings import EvalSettings
from cleann.metrics.testers import RecOracle, TextOracle
from cleann.pipeline.backends import get_backend
from cleann.pipeline.params import ExplainParams
from cleann.pipeline.staging import Staging

log = logging.getLogger(__name__)
# Captum and the pass counter hook the (per-process, shared) model: a forward pass from
# another thread meanwhile would be counted, or worse, get Captum's interpolated
# embeddings. So model work of an evaluation is serialised per process; use the
# processes or dask runner for parallel evaluation.
MODEL_LOCK = threading.Lock()


def visible_text(tokenizer, text: str, max_length: int) -> str:
    """The prefix of ``text`` the model saw after truncation (for SHAP's own tokenizer)."""
    enc = tokenizer(text, truncation=True, max_length=max_length, return_offsets_mapping=True)
    ends = [e for _, e in enc["offset_mapping"] if e]
    return text[: max(ends)] if ends else text


def cleann_attribution(row: pd.Series, candidates: tuple[int, ...]) -> Attribution:
    positions = row.get("positions")
    has = positions is not None and len(positions) > 0
    rows = row.get("tester_rows")
    return Attribution("cleann", candidates, positions=tuple(int(p) for p in positions) if has else None,
                       seconds=float(row.get("cleann_seconds", np.nan)),
                       forward_passes=0 if rows is None or pd.isna(rows) else int(rows))


def evaluate_sample(rows: EvalRows, sid: str, view, backend, row: pd.Series, params: ExplainParams,
                    settings: EvalSettings) -> None:
    """All requested explainers on one inferred sample, metrics and scores into ``rows``."""
    if params.corpus_kind == "imdb":
        mi = text_input(backend.model, backend.tokenizer, view.raw, params.removal)
        oracle = TextOracle(backend.tester(view, params.removal))
        text = visible_text(backend.tokenizer, str(row["text"]), params.max_length)
    else:
        mi = rec_input(backend.rec, view.raw)
        oracle = RecOracle(backend.tester(view, params.removal))
        text = None
    names = list(settings.explainers)
    cleann_size = None
    if "cleann" in names:
        attr = cleann_attribution(row, oracle.candidates)
        values = evaluate_set(attr, oracle)
        cleann_size = int(values["size"]) if "size" in values else None
        rows.add_metrics(sid, "cleann", values)
    for name in (n for n in names if n != "cleann"):
        try:
            attrs = run_baselines(mi, [name], tokenizer=getattr(backend, "tokenizer", None), text=text,
                                  removal=params.removal, n_steps=settings.n_steps,
                                  ig_batch_size=settings.ig_batch_size,
                                  shap_max_evals=settings.shap_max_evals)
        except Exception as exc:  # noqa: BLE001 - recorded per explainer and sample
            log.warning("explainer %s failed on sample %s: %s", name, sid, exc)
            rows.add_metrics(sid, name, {"error": 1.0, "n_candidates": float(len(oracle.candidates))})
            continue
        for attr in attrs:
            values = evaluate_ranking(attr, oracle, reference_size=cleann_size, max_k=settings.max_k,
                                      chunk=settings.chunk)
            rows.add_metrics(sid, attr.explainer, values)
            rows.add_scores(sid, attr)
            rows.add_flip_set(sid, attr, values)


def evaluate_batch(staging: Staging, batch_id: str, params: ExplainParams, model_path: str,
                   settings: EvalSettings, backend: Any | None = None) -> str:
    """Evaluate one staged input batch; returns the staged manifest path."""
    frame = staging.read_input(batch_id)
    backend = backend or get_backend(params.corpus_kind, model_path)
    column = "text" if params.corpus_kind == "imdb" else "history"
    inputs = [str(x) if column == "text" else [int(i) for i in x] for x in frame[column]]
    rows = EvalRows(staging.run_id)
    ids = [str(s) for s in frame["sample_id"]]
    with MODEL_LOCK:
        views = backend.infer(inputs, 16, params.max_length)
        for sid, view, (_, row) in zip(ids, views, frame.iterrows()):
            evaluate_sample(rows, sid, view, backend, row, params, settings)
    return staging.write_batch(batch_id, rows.frames(), ids)
