"""Staged batch files on any fsspec path: workers write here, only the loader reads.

Why: DuckDB allows one writer process and blocks every other process while it writes,
so workers never touch the .duckdb file. Each batch writes one Parquet file per table
under a deterministic name (a retried batch overwrites its own files), each through a
temporary name and a rename, and a manifest last: a batch is complete exactly when its
manifest exists, so a SIGKILL at any moment leaves either a loadable batch or debris
that the next run deletes.

Layout under ``<root>/<run_id>/``::

    inputs/<batch_id>.parquet          samples to process (written by the planner)
    out/<batch_id>/<table>.parquet     results, one file per table
    out/<batch_id>/_MANIFEST.json      written last: tables, row counts, sample ids
    attention/<sample_id>.npz          last-layer attention [H, L, L], only on request (kept)
    owners/<host>-<pid>.json           invocations of this run (see ``clear_unfinished``)
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

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
