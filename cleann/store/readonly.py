"""Run analyst SQL against the database without any chance of changing it or anything else.

Why two guards: statements are classified by DuckDB's own parser first, so a write gets
a clear refusal naming the statement type. That check is only the friendly first line: a
deny-list of statements cannot close every path (``EXPLAIN ANALYZE COPY ... TO`` is an
EXPLAIN, ``IMPORT DATABASE`` parses as a PRAGMA, ``read_text('/etc/passwd')`` is a plain
SELECT). The real boundary is the connection: it is opened read-only with DuckDB's own
sandbox (``cleann.store.db.SANDBOX_CONFIG``: external access off, configuration locked),
so whatever the check lets through can read the database file and nothing else.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd

from cleann.errors import BadInputError, CleannError

READ_STATEMENT_TYPES = {"SELECT", "EXPLAIN", "PRAGMA"}
# PRAGMAs that only read the catalog or build information. Others are refused up front
# (IMPORT DATABASE and COPY FROM DATABASE parse as PRAGMA statements too).
READ_PRAGMAS = {
    "table_info", "show", "show_tables", "show_tables_expanded", "show_databases", "database_list",
    "database_size", "storage_info", "metadata_info", "version", "platform", "functions",
    "collations", "user_agent", "extension_versions",
}
DEFAULT_WAIT_S = 60.0
DEFAULT_TIMEOUT_S = 60.0       # `cleann sql` / `cleann query` --timeout: suits an interactive query
DEFAULT_MEMORY_LIMIT = "2GB"   # ... --memory-limit: DuckDB's own memory_limit (its default is 80 % of RAM)
_EXPLAIN_PREFIX = re.compile(r"^\s*EXPLAIN\b\s*(?:ANALY[SZ]E\b\s*)?(?:\([^)]*\)\s*)?", re.IGNORECASE)
_PRAGMA_NAME = re.compile(r"^\s*PRAGMA\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
_FIRST_WORDS = re.compile(r"^\s*([A-Za-z_]+(?:\s+[A-Za-z_]+)?)")


def _short(sql: str, limit: int = 80) -> str:
    text = " ".join(sql.split())
    return repr(text if len(text) <= limit else text[:limit - 3] + "...")


def _refuse(kind: str, sql: str) -> BadInputError:
    return BadInputError(
        f"refused: {kind} statements are not allowed here; `cleann sql` opens the database "
        f"read-only (only SELECT, EXPLAIN, PRAGMA): {_short(sql)}")


def _check_statement(statement) -> None:
    kind = statement.type.name
    text = statement.query
    if kind not in READ_STATEMENT_TYPES:
        raise _refuse(kind, text)
    if kind == "PRAGMA":
        match = _PRAGMA_NAME.match(text)
        if match is None:  # IMPORT DATABASE, COPY FROM DATABASE, ...
            words = _FIRST_WORDS.match(text)
            raise _refuse(words.group(1).upper() if words else "this", text)
        if match.group(1).lower() not in READ_PRAGMAS:
            raise BadInputError(
                f"refused: PRAGMA {match.group(1)} is not allowed here; `cleann sql` allows only "
                f"PRAGMAs that read the catalog ({', '.join(sorted(READ_PRAGMAS))}): {_short(text)}")
    if kind == "EXPLAIN":
        # EXPLAIN ANALYZE runs its statement: check what it explains, too.
        inner = _EXPLAIN_PREFIX.sub("", text, count=1)
        try:
            inner_statements = duckdb.extract_statements(inner)
        except duckdb.Error:
            return  # the sandboxed connection still stops anything that slipped through
        for statement_inside in inner_statements:
            if statement_inside.type.name != "SELECT":
                raise _refuse(f"EXPLAIN of {statement_inside.type.name}", text)


def check_read_only(sql: str) -> list[str]:
    """The statements of `sql`, after refusing any that is not a read (friendly messages;
    the sandboxed connection is what actually enforces it)."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise BadInputError(f"SQL does not parse: {' '.join(str(exc).split())}") from None
    if not statements:
        raise BadInputError("no SQL statement given")
    for statement in statements:
        _check_statement(statement)
    return [s.query for s in statements]


def explain_failure(exc: duckdb.Error) -> str:
    """One line for a failed statement; says plainly when the sandbox refused it."""
    message = " ".join(str(exc).split())
    if len(message) > 300:  # DuckDB echoes the statement; keep the line readable
        message = message[:297] + "..."
    if isinstance(exc, duckdb.PermissionException):
        return ("refused: `cleann sql` cannot read or write files outside the database, use the "
                f"network or load extensions (DuckDB external access is off): {message}")
    if "configuration has been locked" in message:
        return f"refused: settings cannot be changed in `cleann sql` (configuration is locked): {message}"
    return f"query failed: {message}"


class QueryLimitError(CleannError):
    """A query stopped by a limit the user set (--timeout, --memory-limit): not a mistake
    in the query, so the CLI exits 1, not 2."""

    exit_code = 1


def check_memory_limit(value: str, option: str = "--memory-limit") -> str:
    """A DuckDB ``memory_limit`` value ('2GB', '500MiB', '50%'), checked by DuckDB itself."""
    text = str(value).strip()
    try:
        duckdb.connect(":memory:", config={"memory_limit": text}).close()
    except duckdb.Error as exc:
        raise BadInputError(f"{option} {text[:40]!r}: {' '.join(str(exc).split())[:200]}") from None
    return text


def run_statement(con: duckdb.DuckDBPyConnection, statement: str) -> pd.DataFrame:
    """One statement's result. An interrupted query (``con.interrupt()``: Ctrl-C, timeout)
    raises ``duckdb.InterruptException`` for the caller; running out of the connection's
    memory limit is a :class:`QueryLimitError`; any other failure one BadInputError line."""
    try:
        return con.execute(statement).df()
    except duckdb.InterruptException:
        raise
    except duckdb.OutOfMemoryException as exc:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        raise QueryLimitError(f"query ran out of memory (limit {limit}; pass a larger --memory-limit): "
                              f"{str(exc).splitlines()[0][:200]}") from None
    except duckdb.Error as exc:
        raise BadInputError(explain_failure(exc)) from None


def query(sql: str, db_path: str | Path | None = None, wait_s: float = DEFAULT_WAIT_S, *,
          memory_limit: str | None = None,
          on_connect: Callable[[duckdb.DuckDBPyConnection], None] | None = None) -> list[pd.DataFrame]:
    """One DataFrame per statement, run on a sandboxed read-only connection; waits up to
    ``wait_s`` seconds while a writer holds the file. ``memory_limit`` is DuckDB's setting
    for the connection (fixed before the sandbox locks the configuration); ``on_connect``
    gets the open connection (the CLI uses it to interrupt the query)."""
    from cleann.store.runs import open_db

    statements = check_read_only(sql)
    settings = {"memory_limit": memory_limit} if memory_limit else None
    with open_db(db_path, read_only=True, wait_s=wait_s, settings=settings) as con:
        if on_connect is not None:
            on_connect(con)
        return [run_statement(con, statement) for statement in statements]
