"""Run analyst SQL against the database without any chance of changing it.

Why two guards: statements are classified by DuckDB's own parser first, so a write gets
a clear refusal naming the statement type; the connection is also opened read-only, so
anything the classifier let through still cannot write.
"""
from __future__ import annotations

from contextlib import closing
from pathlib import Path

import duckdb
import pandas as pd

from cleann.errors import BadInputError
from cleann.store.db import connect

READ_STATEMENT_TYPES = {"SELECT", "EXPLAIN", "PRAGMA"}


def check_read_only(sql: str) -> list[str]:
    """The statements of `sql`, after refusing any that is not a read."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise BadInputError(f"SQL does not parse: {exc}") from None
    if not statements:
        raise BadInputError("no SQL statement given")
    for statement in statements:
        kind = statement.type.name
        if kind not in READ_STATEMENT_TYPES:
            raise BadInputError(
                f"refused: {kind} statements are not allowed here; `cleann sql` opens the "
                f"database read-only (only SELECT, EXPLAIN, PRAGMA): {statement.query.strip()[:80]!r}")
    return [s.query for s in statements]


def query(sql: str, db_path: str | Path | None = None) -> list[pd.DataFrame]:
    """One DataFrame per statement, run on a read-only connection."""
    statements = check_read_only(sql)
    with closing(connect(db_path, read_only=True)) as con:
        frames = []
        for statement in statements:
            try:
                frames.append(con.execute(statement).df())
            except duckdb.Error as exc:
                message = " ".join(str(exc).split())  # the CLI prints errors as one line
                raise BadInputError(f"query failed: {message}") from None
        return frames
