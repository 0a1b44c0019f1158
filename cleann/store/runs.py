"""Where a run's rows are written: the file lock, the ``runs`` registry, staged batches.

Why one module: DuckDB lets one process hold the database file for writing and, while it
does, no other process can open it (a read-only holder blocks a writer too). So the
pipeline keeps a single writer that opens the file only for a short transaction, workers
write Parquet batches to a staging folder instead, and the ``runs`` row says what produced
the stored rows and how far the run got. Loading a staged batch (one transaction that
replaces its rows, per the job's table policy) is ``cleann.pipeline.job.load_staged``.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cleann.config import default_db_path
from cleann.errors import BadInputError, CleannError
from cleann.store.db import connect, insert_frame
from cleann.store.owner import Owner

if TYPE_CHECKING:
    from cleann.pipeline.params import ExplainParams


# --- opening the database ----------------------------------------------------------------
# The writer and `cleann query` retry for a while when the file is busy instead of failing.

class DatabaseBusyError(CleannError):
    """Another process held the database file for longer than we were willing to wait."""


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflicting" in text or "being used" in text


@contextmanager
def open_db(
    path: str | Path | None,
    read_only: bool = False,
    wait_s: float = 30.0,
    allowed_directories: Sequence[str | Path] = (),
    settings: Mapping[str, object] | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open via ``connect``, retrying on lock conflicts for ``wait_s``.
    Read-only connections are sandboxed; ``allowed_directories`` are the folders they may
    still write (exports); ``settings`` further DuckDB options of a read-only connection."""
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            con = connect(path, read_only=read_only, allowed_directories=allowed_directories, settings=settings)
            break
        except (duckdb.IOException, duckdb.ConnectionException, BadInputError) as exc:
            if not _is_lock_error(exc) or time.monotonic() >= deadline:
                if _is_lock_error(exc):
                    hint = " (pass --wait SECONDS to wait longer)" if read_only else ""
                    raise DatabaseBusyError(
                        f"database {path or default_db_path()}: another process is writing it; "
                        f"gave up waiting after {wait_s:g} s{hint}"
                    ) from None
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    try:
        yield con
    finally:
        con.close()


# --- the runs registry -------------------------------------------------------------------
# One ``runs`` row per run id, created on first start, updated on resume: parameters, model
# path + sha256, code version, and status: ``running``; ``completed`` (every selected sample
# ok, at least one sample); ``partial`` (some samples failed or batches were not processed:
# ``error`` says which; `cleann retry` / a re-run finishes them); ``failed`` (the start or
# flow failed or crashed, or no sample was produced: ``error`` says why); ``interrupted``
# (Ctrl-C stopped the command; the same command resumes it). Each start records its owner
# process (migration 105, ``cleann.store.owner``): readers show a ``running`` run whose
# owner is gone as ``abandoned``; a re-run takes the run over.

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
    """Insert the run (status running) or mark an existing one running again, owned by this
    process (a run left by a process that is gone is taken over); True if new."""
    from cleann.pipeline.params import code_version

    owner = Owner.current()
    exists = con.execute("SELECT count(*) FROM runs WHERE run_id = ?", [run_id]).fetchall()[0][0]
    if exists:
        con.execute(
            "UPDATE runs SET status = 'running', finished_at = NULL, error = NULL, code_version = ?, "
            "flow_run_id = coalesce(?, flow_run_id), owner_host = ?, owner_pid = ?, owner_start = ? "
            "WHERE run_id = ?",
            [code_version(), flow_run_id, owner.host, owner.pid, owner.start, run_id],
        )
        return False
    row = pd.DataFrame([{
        "run_id": run_id, "flow_run_id": flow_run_id,
        "kind": "sentiment" if params.corpus_kind == "imdb" else "rec",
        # Code reads the typed columns (migration 104); `corpus` stays as the shown label.
        "corpus": f"{params.corpus_kind}:{params.corpus_name}:{params.split}",
        "corpus_kind": params.corpus_kind, "corpus_name": params.corpus_name, "corpus_split": params.split,
        "model": str(model_path), "model_sha256": model_sha, "params": params.to_json(),
        "code_version": code_version(), "started_at": _now(), "finished_at": None, "status": "running",
        "owner_host": owner.host, "owner_pid": owner.pid, "owner_start": owner.start,
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
    with open_db(con_or_db, wait_s=wait_s) as con:
        return _mark_failed(con, run_id, reason)


def _mark_failed(con: duckdb.DuckDBPyConnection, run_id: str, reason: object, status: str = "failed") -> bool:
    rows = con.execute(
        "UPDATE runs SET status = ?, finished_at = ?, error = ? "
        "WHERE run_id = ? AND status = 'running' RETURNING run_id",
        [status, _now(), _short_reason(reason), run_id],
    ).fetchall()
    return bool(rows)


INTERRUPTED = "interrupted"
INTERRUPTED_REASON = "interrupted (Ctrl-C); run the same command again to resume"


def mark_owned_runs_interrupted(db: str | Path | None, wait_s: float = 1.0,
                                reason: str = INTERRUPTED_REASON) -> list[str]:
    """Mark every run of ``db`` that this process owns and that is still ``running`` as
    ``interrupted``; returns their ids. Called by the CLI when Ctrl-C stops a job: a run
    another process took over meanwhile is left alone. Waits at most ``wait_s`` for the
    file (a reader may hold it); the run is then shown as ``abandoned`` instead."""
    owner = Owner.current()
    with open_db(db, wait_s=wait_s) as con:
        rows = con.execute(
            "UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE status = 'running' "
            "AND owner_host = ? AND owner_pid = ? AND owner_start IS NOT DISTINCT FROM ? RETURNING run_id",
            [INTERRUPTED, _now(), _short_reason(reason), owner.host, owner.pid, owner.start]).fetchall()
    return sorted(r[0] for r in rows)


@contextmanager
def failure_marks_run(db: str | Path | None, run_id: str) -> Iterator[None]:
    """Run a block that works on a registered run; if it raises, mark the run failed with
    the error (``interrupted`` for KeyboardInterrupt) and re-raise, so no run stays
    ``running`` because its start or a step failed. Marking is best effort: its own
    error never hides the original one."""
    try:
        yield
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        try:
            if interrupted:
                with open_db(db) as con:
                    _mark_failed(con, run_id, INTERRUPTED_REASON, status=INTERRUPTED)
            else:
                mark_run_failed(db, run_id, f"{type(exc).__name__}: {exc}")
        except Exception:  # noqa: BLE001 - the original error matters more
            pass
        raise


def get_run(con: duckdb.DuckDBPyConnection, run_id: str) -> dict | None:
    """The run's ``runs`` row as a dict, None if it was never registered."""
    cur = con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
    rows = cur.fetchall()
    if not rows:
        return None
    return dict(zip([d[0] for d in cur.description], rows[0]))


# --- staging -----------------------------------------------------------------------------
# Workers write batches here on any fsspec path; only the single writer loads them. Each
# batch writes one Parquet file per table under a deterministic name (a retried batch
# overwrites its own files), each through a temporary name and a rename, and a manifest
# last: a batch is complete exactly when its manifest exists, so a SIGKILL at any moment
# leaves either a loadable batch or debris that the next run deletes. Under <root>/<run_id>/:
#   inputs/<batch_id>.parquet        samples to process (written by the planner)
#   out/<batch_id>/<table>.parquet   results, one file per table
#   out/<batch_id>/_MANIFEST.json    written last: tables, row counts, sample ids
#   attention/<sample_id>.npz        last-layer attention [H, L, L], only on request (kept)
#   owners/<host>-<pid>.json         invocations of this run (see ``clear_unfinished``)

MANIFEST = "_MANIFEST.json"


def batch_id_for(sample_ids: Iterable[str]) -> str:
    """Deterministic batch name from its sample ids (order-independent)."""
    joined = "\n".join(sorted(map(str, sample_ids))).encode()
    return "b" + hashlib.sha256(joined).hexdigest()[:16]


@dataclass(frozen=True)
class Staging:
    """One run's staging folder; ``root`` is any fsspec URL or local path."""

    root: str
    run_id: str

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        fs, _ = fsspec.core.url_to_fs(self.root)
        return fs

    @property
    def base(self) -> str:
        _, path = fsspec.core.url_to_fs(self.root)
        return f"{path.rstrip('/')}/{self.run_id}"

    def input_path(self, batch_id: str) -> str:
        return f"{self.base}/inputs/{batch_id}.parquet"

    def out_dir(self, batch_id: str) -> str:
        return f"{self.base}/out/{batch_id}"

    # --- writing ---------------------------------------------------------------------
    def _atomic_write(self, path: str, data: bytes) -> None:
        fs = self.fs
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
        with fs.open(tmp, "wb") as fh:
            fh.write(data)
        fs.mv(tmp, path)

    def write_input(self, batch_id: str, frame: pd.DataFrame) -> str:
        path = self.input_path(batch_id)
        self._atomic_write(path, _parquet_bytes(frame))
        return path

    def read_input(self, batch_id: str) -> pd.DataFrame:
        with self.fs.open(self.input_path(batch_id), "rb") as fh:
            return pq.read_table(fh).to_pandas()

    def write_batch(self, batch_id: str, tables: Mapping[str, pd.DataFrame], sample_ids: list[str]) -> str:
        """Write every table, then the manifest; returns the manifest path."""
        out = self.out_dir(batch_id)
        counts = {}
        for name, frame in tables.items():
            self._atomic_write(f"{out}/{name}.parquet", _parquet_bytes(frame))
            counts[name] = int(len(frame))
        manifest = {"run_id": self.run_id, "batch_id": batch_id, "rows": counts,
                    "sample_ids": [str(s) for s in sample_ids]}
        path = f"{out}/{MANIFEST}"
        self._atomic_write(path, json.dumps(manifest).encode())
        return path

    def write_attention(self, sample_id: str, attention) -> str:
        """Keep one sample's attention tensor (``--store-attention``); not loaded into DuckDB."""
        import numpy as np

        buf = io.BytesIO()
        np.savez_compressed(buf, attention=attention)
        path = f"{self.base}/attention/{sample_id}.npz"
        self._atomic_write(path, buf.getvalue())
        return path

    # --- reading (loader) --------------------------------------------------------------
    def ready_batches(self) -> list[str]:
        """Batch ids whose manifest exists, sorted."""
        fs = self.fs
        found = fs.glob(f"{self.base}/out/*/{MANIFEST}")
        return sorted(p.rstrip("/").split("/")[-2] for p in found)

    def read_manifest(self, batch_id: str) -> dict:
        with self.fs.open(f"{self.out_dir(batch_id)}/{MANIFEST}", "rb") as fh:
            return json.loads(fh.read())

    def read_table(self, batch_id: str, table: str) -> pa.Table:
        with self.fs.open(f"{self.out_dir(batch_id)}/{table}.parquet", "rb") as fh:
            return pq.read_table(fh)

    # --- cleanup -----------------------------------------------------------------------
    def remove_batch(self, batch_id: str) -> None:
        """Forget a loaded batch: manifest first, so a crash never leaves half a batch ready."""
        fs = self.fs
        out = self.out_dir(batch_id)
        if fs.exists(f"{out}/{MANIFEST}"):
            fs.rm(f"{out}/{MANIFEST}")
        if fs.exists(out):
            fs.rm(out, recursive=True)
        if fs.exists(self.input_path(batch_id)):
            fs.rm(self.input_path(batch_id))

    def clear_unfinished(self) -> int:
        """Delete inputs and partial outputs without a manifest (debris of a killed run),
        unless another live invocation of this run is using them.

        Why the owner files: two invocations of the same run (same run id, same staging
        folder) may overlap; each registers itself under ``owners/`` here, and debris is
        cleared only when no other registered invocation is still alive, so the second
        never deletes the first one's staged inputs or half-written outputs. Owners whose
        process is gone are removed. Returns the number of paths deleted.
        """
        fs = self.fs
        me = self.register_owner()
        others = [p for p in fs.glob(f"{self.base}/{OWNERS}/*.json")
                  if p.rstrip("/").split("/")[-1] != me]
        alive = 0
        for path in others:
            if _owner_alive(fs, path):
                alive += 1
            else:
                fs.rm(path)
        if alive:
            return 0
        ready = set(self.ready_batches())
        removed = 0
        for path in fs.glob(f"{self.base}/inputs/*"):
            if path.rstrip("/").split("/")[-1].split(".")[0] not in ready:
                fs.rm(path)
                removed += 1
        for path in fs.glob(f"{self.base}/out/*"):
            if path.rstrip("/").split("/")[-1] not in ready:
                fs.rm(path, recursive=True)
                removed += 1
        return removed

    def register_owner(self) -> str:
        """Record this process as an invocation of the run (idempotent); returns the name
        of its owner file under ``owners/``."""
        name = f"{socket.gethostname()}-{os.getpid()}.json"
        path = f"{self.base}/{OWNERS}/{name}"
        info = {"host": socket.gethostname(), "pid": os.getpid(),
                "pid_start": _process_start(os.getpid()), "written": time.time()}
        self._atomic_write(path, json.dumps(info).encode())
        return name

    def release_owner(self) -> None:
        """Forget this process's registration (the run is finished or abandoned)."""
        fs = self.fs
        path = f"{self.base}/{OWNERS}/{socket.gethostname()}-{os.getpid()}.json"
        if fs.exists(path):
            fs.rm(path)


OWNERS = "owners"
FOREIGN_OWNER_TTL_S = 12 * 3600  # owners on other hosts: alive while this recent


def _process_start(pid: int) -> str | None:
    """Start time of a process in clock ticks since boot (Linux), to tell a reused pid
    from the original; None where /proc is not available."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode(errors="replace")
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _owner_alive(fs: fsspec.AbstractFileSystem, path: str) -> bool:
    """Whether the invocation recorded in an owner file may still be running."""
    try:
        with fs.open(path, "rb") as fh:
            info = json.loads(fh.read())
    except (OSError, ValueError):
        return False
    if info.get("host") != socket.gethostname():
        return time.time() - float(info.get("written", 0)) < FOREIGN_OWNER_TTL_S
    pid = int(info.get("pid", -1))
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    start = _process_start(pid)
    return info.get("pid_start") is None or start is None or start == info["pid_start"]


def _parquet_bytes(frame: pd.DataFrame | pa.Table) -> bytes:
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def default_staging_root(db_path: str | Path) -> str:
    """Local default: ``<db>.staging/`` next to the database file."""
    p = Path(db_path)
    return str(p.with_name(p.name + ".staging"))


# --- loading -----------------------------------------------------------------------------
# A batch can be staged twice (task retry, resume after a kill, `cleann retry`), so loading
# replaces its rows in one transaction; staged files are removed only after the commit.

@dataclass
class LoadStats:
    batches: int = 0
    samples: int = 0
    rows: int = 0


@dataclass
class StagedBatch:
    """A staged batch read into memory, so the database is held only for the insert."""

    batch_id: str
    sample_ids: list[str]
    tables: dict[str, pd.DataFrame]


def read_batch(staging: Staging, batch_id: str) -> StagedBatch:
    """Read a complete staged batch (manifest and Parquet files) without touching the database."""
    manifest = staging.read_manifest(batch_id)
    tables = {name: staging.read_table(batch_id, name).to_pandas() for name in manifest["rows"]}
    return StagedBatch(batch_id, [str(s) for s in manifest["sample_ids"]], tables)
