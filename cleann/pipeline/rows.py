"""Rows of one batch, typed the same way whether a batch has many rows or none.

Why explicit Arrow schemas: an empty pandas column has no type, and a staged file must
load into the DuckDB tables the same way every time.

Conventions: positions are token positions of the model input (for MovieLens, positions
in history + appended predicted item); ``head = -1`` is the head-averaged attention;
``size`` counts graph nodes (words when words are merged); graph edges name a node by
its first token position. Explanation ranks: ``rank >= 1`` are a head's accepted sets in
search order; ``rank = 0`` is one extra row per sample, a copy of the per-sample best set
across heads (smallest size, then smallest distance sum, then lowest head, then rank),
stored under the head it came from. ``samples.explain_status`` says what the search
concluded for a processed sample: ``ok`` (a set found), ``not_found`` (every allowed size
searched) or ``budget`` (stopped by ``max_model_rows``; ``explain_reason`` says where).
In ``search='first'`` mode only the winning head has an explanation row (rank 1, plus its
rank-0 copy); the other heads store their graph and counts (``cleann.causal.multihead``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from cleann.causal.multihead import HeadOutcome

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
