"""Short-lived DuckDB connections that wait politely for the file lock.

Why: DuckDB lets one process hold a database file for writing and, while it does, no
other process can open it, not even read-only (and a read-only holder blocks a writer
too). So the pipeline's single writer opens the file only for the moment it loads a
batch, and both the writer and `cleann query` retry for a while when the file is busy
instead of failing.
"""
from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb

from cleann.config import default_db_path
from cleann.errors import BadInputError, CleannError


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
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open via ``cleann.store.db.connect``, retrying on lock conflicts for ``wait_s``.
    Read-only connections are sandboxed; ``allowed_directories`` are the folders they may
    still write (exports)."""
    from cleann.store.db import connect

    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            con = connect(path, read_only=read_only, allowed_directories=allowed_directories)
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
