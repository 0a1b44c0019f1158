"""The `runs` table: one row per run id, created on first start, updated on resume.

Why: every stored row carries `run_id`; the `runs` row says what produced it
(parameters, model path + sha256, code version) and how far it got (status, times).
Status values (schema v1): ``running``; ``completed`` (every selected sample ok);
``partial`` (some samples failed, or some batches could not be processed: `error` says
which; `cleann retry` / a re-run finishes them).
"""
from __future__ import annotations

from datetime import datetime, timezone

import duckdb
import pandas as pd

from cleann.pipeline.identity import code_version
from cleann.pipeline.params import ExplainParams


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def register_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    params: ExplainParams,
    model_path: str,
    model_sha: str,
    flow_run_id: str | None = None,
) -> bool:
    """Insert the run (status running) or mark an existing one running again; True if new."""
    from cleann.store.db import insert_frame

    exists = con.execute("SELECT count(*) FROM runs WHERE run_id = ?", [run_id]).fetchall()[0][0]
    if exists:
        con.execute(
            "UPDATE runs SET status = 'running', finished_at = NULL, error = NULL, code_version = ?, "
            "flow_run_id = coalesce(?, flow_run_id) WHERE run_id = ?",
            [code_version(), flow_run_id, run_id],
        )
        return False
    row = pd.DataFrame([{
        "run_id": run_id, "flow_run_id": flow_run_id,
        "kind": "sentiment" if params.corpus_kind == "imdb" else "rec",
        "corpus": f"{params.corpus_kind}:{params.corpus_name}:{params.split}",
        "model": str(model_path), "model_sha256": model_sha, "params": params.to_json(),
        "code_version": code_version(), "started_at": _now(), "finished_at": None, "status": "running",
    }])
    insert_frame(con, "runs", row)
    return True


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, incomplete: int = 0) -> str:
    """Set the final status from the samples table; returns it."""
    failed = con.execute(
        "SELECT count(*) FROM samples WHERE run_id = ? AND status = 'failed'", [run_id]
    ).fetchall()[0][0]
    problems = []
    if failed:
        problems.append(f"{failed} sample(s) failed")
    if incomplete:
        problems.append(f"{incomplete} batch(es) not processed")
    status = "partial" if problems else "completed"
    con.execute("UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE run_id = ?",
                [status, _now(), "; ".join(problems) or None, run_id])
    return status


def get_run(con: duckdb.DuckDBPyConnection, run_id: str) -> dict | None:
    cur = con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
    rows = cur.fetchall()
    if not rows:
        return None
    return dict(zip([d[0] for d in cur.description], rows[0]))
