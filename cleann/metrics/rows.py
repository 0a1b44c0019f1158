"""Typed rows an evaluation batch stages: metrics, costs, token_scores, baseline explanations.

Why explicit Arrow schemas: a batch can have no rows for a table, and the staged Parquet
must still load into DuckDB with the right types (same reason as the pipeline's rows).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from cleann.explainers.base import Explanation

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
