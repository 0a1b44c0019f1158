"""Checks every CLI command runs before it starts Prefect or loads a model.

Why: a user mistake (a missing folder, a directory where a file belongs, `/dev/full`,
a negative count) must end in one line and exit code 2 within a second, not after a
~12 s Prefect server start-up and a traceback. These raise `BadInputError`; the
argparse types below make argparse itself refuse bad numbers with one line.
"""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from cleann.errors import BadInputError, shorten

DUCKDB_MAGIC = b"DUCK"  # bytes 8..11 of a DuckDB database file


def _number(kind, text: str, low: float | None, what: str):
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{shorten(text, 40)!r} is not {what}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{shorten(text, 40)!r} is not a finite number")
    if low is not None and value < low:
        raise argparse.ArgumentTypeError(f"{value} is below {low:g} (must be {what})")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _number(int, text, 1, "a whole number >= 1")


def nonnegative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _number(int, text, 0, "a whole number >= 0")


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = _number(float, text, None, "a number > 0")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value:g} is not > 0")
    return value


def seconds(text: str) -> float:
    """argparse type: a finite number of seconds >= 0 (``--wait``)."""
    return _number(float, text, 0, "a number of seconds, 0 or more")


def _describe(path: Path) -> str | None:
    """What is wrong with ``path`` as a regular file we may create or replace, or None."""
    if path.is_dir():
        return "is a directory, not a file"
    if path.exists() and not path.is_file():
        return "is not a regular file (a device, socket or pipe)"
    parent = path.parent
    if not parent.exists():
        return f"folder {parent} does not exist"
    if not parent.is_dir():
        return f"{parent} is not a folder"
    if path.exists() and not os.access(path, os.W_OK):
        return "is not writable (permission denied)"
    if not path.exists() and not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot create files in {parent} (permission denied)"
    return None


def check_output_file(path: str | Path, option: str = "-o") -> Path:
    """A path a command may write its output to (created or replaced); else one line."""
    path = Path(path).expanduser()
    if not str(path).strip():
        raise BadInputError(f"{option}: empty path")
    problem = _describe(path)
    if problem:
        raise BadInputError(f"{option} {shorten(path, 120)}: {problem}")
    return path


def check_db_readable(path: str | Path) -> Path:
    """An existing cleann database file (for commands that only read)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise BadInputError(f"{path}: no database here (run `cleann ingest` or `cleann demo`)")
    if path.is_dir():
        raise BadInputError(f"--db {path}: is a directory, not a database file")
    if not path.is_file():
        raise BadInputError(f"--db {path}: is not a regular file")
    _check_duckdb_header(path)
    from cleann.store.db import check_database_file

    check_database_file(path)
    return path


def check_db_writable(path: str | Path) -> Path:
    """A DuckDB file a command may create or write (the folder exists, the file, if any,
    is a cleann database we may write)."""
    path = Path(path).expanduser()
    problem = _describe(path)
    if problem:
        raise BadInputError(f"--db {shorten(path, 120)}: {problem}")
    if path.exists():
        _check_duckdb_header(path)
        from cleann.store.db import check_database_file

        check_database_file(path)  # someone else's DuckDB file: refused before anything is written
    return path


def _check_duckdb_header(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            head = fh.read(12)
    except OSError as exc:
        raise BadInputError(f"--db {path}: cannot be read ({exc.strerror})") from None
    if len(head) == 0:
        return  # an empty file: DuckDB initialises it
    if head[8:12] != DUCKDB_MAGIC:
        raise BadInputError(f"--db {path}: not a DuckDB database file")


def check_input_path(path: str | Path, option: str, kind: str = "any") -> Path:
    """An existing input: ``kind`` 'file', 'dir' or 'any' (file or folder)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise BadInputError(f"{option} {shorten(path, 120)}: not found")
    if kind == "file" and path.is_dir():
        raise BadInputError(f"{option} {path}: is a directory, not a file")
    if kind == "dir" and not path.is_dir():
        raise BadInputError(f"{option} {path}: not a folder")
    if not (path.is_dir() or path.is_file()):
        raise BadInputError(f"{option} {path}: not a regular file or folder")
    return path
