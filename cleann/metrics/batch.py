"""The work on one evaluation batch: infer, run the explainers, score every one; then its rows.

Why one module: this is everything an evaluation worker does between the plan and the
load, in the order it happens (the evaluate job's counterpart of
:mod:`cleann.pipeline.batch`). Same contract as the explain batch: it touches only the
staging folder (a retried batch overwrites its files), so the same task runners and the
single-writer loader apply. One explainer failing on one sample is recorded as metric
``error`` = 1 for that pair and does not stop the others.

Rows (:class:`EvalRows`: metrics, explainer_costs, token_scores, baseline explanations)
have explicit Arrow schemas: a batch can have no rows for a table, and the staged Parquet
must still load into DuckDB with the right types (same reason as the explain batch's rows).
"""
from __future__ import annotations

import inspect
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from cleann.explainers import STATUSES, Cost, Explainer, Explanation, get_explainer
from cleann.explainers.samples import sample_from_view
from cleann.metrics.per_sample import evaluate_ranking, evaluate_set
from cleann.metrics.probes import RecProbe, TextProbe
from cleann.metrics.settings import EvalSettings
from cleann.pipeline.batch import get_backend
from cleann.pipeline.params import ExplainParams
from cleann.store.runs import Staging

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


def explainer_options(settings: EvalSettings, params: ExplainParams) -> dict[str, Any]:
    """Every evaluation knob under the constructor keyword the explainers use for it; each
    explainer takes the ones its constructor names (the oracle gets CLEANN's set-size budget)."""
    return {"n_steps": settings.n_steps, "internal_batch_size": settings.ig_batch_size,
            "max_evals": settings.shap_max_evals, "max_rows": settings.max_rows,
            "max_set_size": params.max_set_size if params.max_set_size is not None else settings.max_k}


def build_explainers(settings: EvalSettings, params: ExplainParams) -> dict[str, Explainer]:
    """The registry's explainers named in ``settings`` (``cleann`` comes from the explain run)."""
    from cleann.explainers import explainer_class

    options = explainer_options(settings, params)
    out = {}
    for name in (n for n in settings.explainers if n != "cleann"):
        accepted = inspect.signature(explainer_class(name).__init__).parameters
        out[name] = get_explainer(name, **{k: v for k, v in options.items() if k in accepted})
    return out


def _float(value) -> float:
    return 0.0 if value is None or pd.isna(value) else float(value)


def cleann_explanation(row: pd.Series, candidates: tuple[int, ...]) -> tuple[Explanation, float]:
    """CLEANN's rank-0 set and cost as stored by its explain run (typed columns, see
    ``cleann.metrics.plan.CLEANN_COST_SQL``); returns (explanation, inference share)."""
    positions = row.get("positions")
    has = positions is not None and len(positions) > 0
    infer = _float(row.get("cleann_infer_seconds"))
    cost = Cost(seconds=_float(row.get("cleann_seconds")) - infer,
                graph_seconds=_float(row.get("cleann_graph_seconds")),
                search_seconds=_float(row.get("cleann_search_seconds")),
                model_seconds=_float(row.get("cleann_model_seconds")),
                forward_rows=int(_float(row.get("tester_rows"))))
    sets = (tuple(int(p) for p in positions),) if has else ()
    status = row.get("cleann_status")
    status = status if isinstance(status, str) and status in STATUSES else ("ok" if has else "not_found")
    return Explanation("cleann", candidates, sets=sets, status=status, cost=cost), infer


def evaluate_sample(rows: EvalRows, sid: str, view, backend, row: pd.Series, params: ExplainParams,
                    settings: EvalSettings, explainers: dict[str, Explainer] | None = None,
                    infer_seconds: float = 0.0) -> None:
    """All requested explainers on one inferred sample, metrics, costs and scores into ``rows``.

    ``infer_seconds``: this sample's share of the evaluation's inference pass, added to
    every explainer's seconds (CLEANN's share comes from its own run).
    """
    explainers = build_explainers(settings, params) if explainers is None else explainers
    text = None
    if params.corpus_kind == "imdb":
        text = visible_text(backend.tokenizer, str(row["text"]), params.max_length)
    sample = sample_from_view(sid, view, backend, params.removal, text)
    probe = (TextProbe if sample.kind == "text" else RecProbe)(sample.tester)
    cleann_size = None
    if "cleann" in settings.explainers:
        exp, infer = cleann_explanation(row, probe.candidates)
        values = evaluate_set(exp, probe, infer)
        cleann_size = int(values["size"]) if "size" in values else None
        rows.add_metrics(sid, "cleann", values)
        rows.add_cost(sid, exp, infer)
    for name, explainer in explainers.items():
        try:
            exp = explainer.explain(sample)
        except Exception as exc:  # noqa: BLE001 - recorded per explainer and sample
            log.warning("explainer %s failed on sample %s: %s", name, sid, exc)
            rows.add_metrics(sid, name, {"error": 1.0, "n_candidates": float(len(probe.candidates))})
            continue
        if exp.is_ranking:
            values = evaluate_ranking(exp, probe, reference_size=cleann_size, max_k=settings.max_k,
                                      chunk=settings.chunk, infer_seconds=infer_seconds)
            rows.add_scores(sid, exp)
        else:
            values = evaluate_set(exp, probe, infer_seconds)
        rows.add_metrics(sid, name, values)
        rows.add_cost(sid, exp, infer_seconds)
        rows.add_flip_set(sid, exp, values)


def evaluate_batch(staging: Staging, batch_id: str, params: ExplainParams, model_path: str,
                   settings: EvalSettings, backend: Any | None = None, device: str = "cpu") -> str:
    """Evaluate one staged input batch; returns the staged manifest path."""
    frame = staging.read_input(batch_id)
    backend = backend or get_backend(params.corpus_kind, model_path, device)
    column = "text" if params.corpus_kind == "imdb" else "history"
    inputs = [str(x) if column == "text" else [int(i) for i in x] for x in frame[column]]
    rows = EvalRows(staging.run_id)
    ids = [str(s) for s in frame["sample_id"]]
    explainers = build_explainers(settings, params)
    with MODEL_LOCK:
        t0 = time.perf_counter()
        views = backend.infer(inputs, 16, params.max_length)
        infer_share = (time.perf_counter() - t0) / max(1, len(views))
        for sid, view, (_, row) in zip(ids, views, frame.iterrows()):
            evaluate_sample(rows, sid, view, backend, row, params, settings, explainers, infer_share)
    return staging.write_batch(batch_id, rows.frames(), ids)


# --- the rows a batch stages ----------------------------------------------------------

SCHEMAS: dict[str, pa.Schema] = {
    "metrics": pa.schema([("run_id", pa.string()), ("sample_id", pa.string()),
                          ("explainer", pa.string()), ("metric", pa.string()), ("value", pa.float64())]),
    "explainer_costs": pa.schema([
        ("run_id", pa.string()), ("sample_id", pa.string()), ("explainer", pa.string()), ("status", pa.string()),
        ("seconds", pa.float64()), ("infer_seconds", pa.float64()), ("graph_seconds", pa.float64()),
        ("search_seconds", pa.float64()), ("model_seconds", pa.float64()), ("forward_rows", pa.int64()),
        ("backward_rows", pa.int64())]),
    "token_scores": pa.schema([("run_id", pa.string()), ("sample_id", pa.string()),
                               ("explainer", pa.string()), ("pos", pa.int32()), ("score", pa.float64())]),
    "explanations": pa.schema([
        ("run_id", pa.string()), ("sample_id", pa.string()), ("head", pa.int32()), ("explainer", pa.string()),
        ("rank", pa.int32()), ("positions", pa.list_(pa.int32())), ("size", pa.int32()),
        ("dist_sum", pa.float64()), ("tester_calls", pa.int32()), ("flipped", pa.bool_()),
        ("flipped_to", pa.int64()), ("replacement_rank", pa.int32())]),
}


@dataclass
class EvalRows:
    run_id: str
    _rows: dict[str, list[dict]] = field(default_factory=lambda: {name: [] for name in SCHEMAS})

    def add_metrics(self, sid: str, explainer: str, values: dict[str, float]) -> None:
        self._rows["metrics"].extend(
            {"run_id": self.run_id, "sample_id": sid, "explainer": explainer, "metric": k,
             "value": float(v)} for k, v in values.items() if v is not None and np.isfinite(v))

    def add_cost(self, sid: str, exp: Explanation, infer_seconds: float) -> None:
        """The typed cost row: the base class's wall clock plus the sample's inference share."""
        c = exp.cost
        self._rows["explainer_costs"].append({
            "run_id": self.run_id, "sample_id": sid, "explainer": exp.explainer, "status": exp.status,
            "seconds": float(c.seconds) + float(infer_seconds), "infer_seconds": float(infer_seconds),
            "graph_seconds": float(c.graph_seconds), "search_seconds": float(c.search_seconds),
            "model_seconds": float(c.model_seconds), "forward_rows": int(c.forward_rows),
            "backward_rows": int(c.backward_rows)})

    def add_scores(self, sid: str, attr: Explanation) -> None:
        self._rows["token_scores"].extend(
            {"run_id": self.run_id, "sample_id": sid, "explainer": attr.explainer, "pos": int(p),
             "score": float(attr.scores[p])} for p in range(len(attr.scores)))

    def add_flip_set(self, sid: str, attr: Explanation, values: dict[str, float]) -> None:
        """A ranking's smallest flipping top-k set, or a set explainer's best set (not
        CLEANN's: the explain run stored it), comparable with CLEANN's set."""
        if not values.get("found") or attr.explainer == "cleann":
            return
        k = int(values["size"])
        positions = sorted(attr.ranking()[:k]) if attr.is_ranking else sorted(attr.best_set)
        rank = values.get("replacement_rank")
        self._rows["explanations"].append({
            "run_id": self.run_id, "sample_id": sid, "head": -1,
            "explainer": attr.explainer, "rank": 0, "positions": positions, "size": k,
            "dist_sum": None, "tester_calls": None, "flipped": True, "flipped_to": None,
            "replacement_rank": None if rank is None else int(rank)})

    def frames(self) -> dict[str, pa.Table]:
        return {n: pa.Table.from_pylist(r, schema=SCHEMAS[n]) for n, r in self._rows.items()}
