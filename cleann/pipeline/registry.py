"""The `runs` table: one row per run id, created on first start, updated on resume.

Why: every stored row carries `run_id`; the `runs` row says what produced it
(parameters, model path + sha256, code version) and how far it got (status, times).
Status values (schema v1): ``running``; ``completed`` (every selected sample ok, at least
one sample); ``partial`` (some samples failed, or some batches could not be processed:
`error` says which; `cleann retry` / a re-run finishes them); ``failed`` (the run's start
or flow failed or crashed, or it produced no sample at all: `error` says why).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from cleann.pipeline.params import code_version
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


MAX_REASON_CHARS = 500


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, incomplete: int = 0) -> str:
    """Set the final status from the samples table; returns it.

    A run with no sample row at all is ``failed``, never ``completed``: nothing was
    explained (e.g. `cleann retry` of a run whose start failed), so claiming success
    would hide the problem."""
    total, failed = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE status = 'failed') FROM samples WHERE run_id = ?",
        [run_id],
    ).fetchall()[0]
    problems = []
    if failed:
        problems.append(f"{failed} sample(s) failed")
    if incomplete:
        problems.append(f"{incomplete} batch(es) not processed")
    if not total:
        status = "failed"
        problems.insert(0, "no sample was processed")
    else:
        status = "partial" if problems else "completed"
    con.execute("UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE run_id = ?",
                [status, _now(), "; ".join(problems) or None, run_id])
    return status


def _short_reason(reason: object) -> str:
    """One line, at most MAX_REASON_CHARS: reasons come from exceptions and Prefect states."""
    text = " ".join(str(reason).split()) or "unknown error"
    if len(text) > MAX_REASON_CHARS:
        text = text[:MAX_REASON_CHARS - 3] + "..."
    return text


def mark_run_failed(
    con_or_db: duckdb.DuckDBPyConnection | str | Path | None,
    run_id: str,
    reason: object,
    wait_s: float = 30.0,
) -> bool:
    """Mark a run that is still ``running`` as ``failed`` with its reason; True if marked.

    Why only ``running`` rows: this is called from failure/crash hooks and error paths,
    which can fire after the run already got a final status (a failure while printing
    the summary must not turn a completed run into a failed one), and for runs that never
    got a row (the start failed before registration): both leave the table unchanged.
    ``con_or_db`` is an open writable connection, or a database path (None: default
    database) that is opened, waiting up to ``wait_s`` for the writer's lock.
    """
    if isinstance(con_or_db, duckdb.DuckDBPyConnection):
        return _mark_failed(con_or_db, run_id, reason)
    from cleann.pipeline.dbopen import open_db

    with open_db(con_or_db, wait_s=wait_s) as con:
        return _mark_failed(con, run_id, reason)


def _mark_failed(con: duckdb.DuckDBPyConnection, run_id: str, reason: object) -> bool:
    rows = con.execute(
        "UPDATE runs SET status = 'failed', finished_at = ?, error = ? "
        "WHERE run_id = ? AND status = 'running' RETURNING run_id",
        [_now(), _short_reason(reason), run_id],
    ).fetchall()
    return bool(rows)


@contextmanager
def failure_marks_run(db: str | Path | None, run_id: str) -> Iterator[None]:
    """Run a block that works on a registered run; if it raises (or is interrupted), mark
    the run failed with the error and re-raise, so no run stays ``running`` because its
    start or a step failed. Marking is best effort: its own error never hides the
    original one."""
    try:
        yield
    except BaseException as exc:
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"{type(exc).__name__}: {exc}"
        try:
            mark_run_failed(db, run_id, reason)
        except Exception:  # noqa: BLE001 - the original error matters more
            pass
        raise


def get_run(con: duckdb.DuckDBPyConnection, run_id: str) -> dict | None:
    cur = con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
    rows = cur.fetchall()
    if not rows:
        return None
    return dict(zip([d[0] for d in cur.description], rows[0]))
