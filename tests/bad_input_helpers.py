"""Helpers for table-driven bad-input tests: run the real CLI, fingerprint a database.

Why shared: tests/test_bad_inputs.py (inputs) and tests/test_bad_params.py (parameters)
both check the same contract for a user mistake: exit code 2, one line on stderr that
names the problem, no traceback, and nothing written to the database.

- ``run_cli(argv, env)`` runs ``cleann`` in-process (fast, ~0.1 s; stdout/stderr captured
  through ``sys.stdout``/``sys.stderr``) or, with ``subprocess=True``, as
  ``python -m cleann`` (what a user sees on the terminal, ~3 s per call).
- ``db_fingerprint(path)`` is ``None`` for a missing file, else a digest of every table's
  rows (read-only), so "nothing written" is a plain equality.
- ``assert_user_error(result, fragment)`` checks the contract above.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import subprocess as _subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def _patched_env(env: Mapping[str, str | None] | None) -> Iterator[None]:
    """Set (or, for None values, unset) environment variables for the duration."""
    saved = {k: os.environ.get(k) for k in (env or {})}
    try:
        for key, value in (env or {}).items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = str(value)
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _cli_console_filter() -> Iterator[None]:
    """In-process, Prefect's settings were read before ``main`` could choose its logging
    settings file; configure Prefect's logging now and add the same console filter the
    CLI's settings file adds, for the duration of the call."""
    import logging

    from prefect.logging.configuration import ensure_logging_setup

    from cleann.cli._prefect_logging import HideRunErrors

    ensure_logging_setup()  # else Prefect configures it lazily, inside the call
    handlers = [*logging.getLogger().handlers, logging.lastResort]
    handlers = [h for h in handlers if h is not None]
    flt = HideRunErrors()
    for handler in handlers:
        handler.addFilter(flt)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(flt)


def run_cli(
    argv: Sequence[str],
    env: Mapping[str, str | None] | None = None,
    *,
    subprocess: bool = False,
    timeout: float = 300,
    cwd: str | Path | None = None,
) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``cleann *argv``.

    ``env`` adds to (None: removes from) the current environment. In-process runs catch
    ``SystemExit`` (argparse usage errors exit with 2) and any other exception, which is
    returned as exit code 1 with its traceback on stderr, as Python itself would do.
    """
    argv = [str(a) for a in argv]
    if subprocess:
        full_env = dict(os.environ)
        for key, value in (env or {}).items():
            if value is None:
                full_env.pop(key, None)
            else:
                full_env[key] = str(value)
        proc = _subprocess.run([sys.executable, "-m", "cleann", *argv], capture_output=True,
                               text=True, env=full_env, timeout=timeout,
                               cwd=str(cwd) if cwd else None)
        return proc.returncode, proc.stdout, proc.stderr

    from cleann.cli import main

    # main() points Prefect at its logging settings through the environment; keep that
    # (and anything else it sets there) out of the calling test process.
    env = {"PREFECT_LOGGING_SETTINGS_PATH": os.environ.get("PREFECT_LOGGING_SETTINGS_PATH"),
           **(env or {})}
    out, err = io.StringIO(), io.StringIO()
    old_cwd = os.getcwd()
    with _patched_env(env), _cli_console_filter(), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        try:
            if cwd:
                os.chdir(cwd)
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001 - report like the interpreter would
            import traceback

            traceback.print_exc(file=err)
            code = 1
        finally:
            os.chdir(old_cwd)
    return int(code), out.getvalue(), err.getvalue()


def db_fingerprint(path: str | Path) -> str | None:
    """None when no database file exists; else a sha256 over every table's sorted rows.

    Read through DuckDB read-only (no migrations applied), so taking a fingerprint never
    changes what it measures. A WAL file next to the database is included by size.
    """
    path = Path(path)
    if not path.exists():
        return None
    if path.is_dir():
        return "directory"
    import duckdb

    digest = hashlib.sha256()
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "ORDER BY table_name").fetchall()]
        for table in tables:
            rows = con.execute(f'SELECT * FROM "{table}" ORDER BY ALL').fetchall()
            digest.update(f"{table}:{len(rows)}:".encode())
            digest.update(repr(rows).encode())
    finally:
        con.close()
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        digest.update(f"wal:{wal.stat().st_size}".encode())
    return digest.hexdigest()


def assert_user_error(result: tuple[int, str, str], fragment: str, code: int = 2, *,
                      only_line: bool = True) -> None:
    """Exit code ``code``, no traceback, one ``cleann: error:`` line containing ``fragment``.

    ``only_line`` (default): that line is all of stderr (the mistake was caught before any
    progress output, i.e. before Prefect started). Otherwise progress lines may precede
    it, but the error line must be the last one.
    """
    got_code, _out, err = result
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("cleann: error:")]
    assert got_code == code, f"exit code {got_code}, stderr:\n{err[-3000:]}"
    assert "Traceback" not in err, f"traceback on stderr:\n{err[-3000:]}"
    assert len(errors) == 1 and lines[-1] == errors[0], f"expected one final error line:\n{err[-3000:]}"
    if only_line:
        assert len(lines) == 1, f"expected only the error line on stderr:\n{err[-3000:]}"
    assert fragment.lower() in errors[0].lower(), f"{fragment!r} not in {errors[0]!r}"
    assert len(errors[0]) <= 600, f"message too long ({len(errors[0])} chars)"


def prefect_api_env() -> dict[str, str]:
    """Environment that points a subprocess at the running Prefect test server (inside the
    ``prefect_harness`` fixture), so a flow does not start its own server (~12 s)."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    return {"PREFECT_API_URL": url} if url else {}
