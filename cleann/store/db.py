"""DuckDB connection, schema migrations, the one way to insert frames, and corpus writes.

Why: every stage writes through here, so the schema is always current before a write,
and inserts are always one set-based statement (DuckDB inserts ~50k frame rows in 0.05 s
but `executemany` costs ~4 ms per row).

Corpus writes (``ingest_documents``, ``ingest_movielens``) are idempotent: re-running an
ingest (a retried flow, a second `cleann demo`) adds nothing, while a changed source is
visible. Rows are keyed (documents by corpus + doc_id, interactions by corpus + user +
item + ts, items by corpus + item_id) and inserted with an anti-join; each distinct
content of a corpus (sha256 over its rows) gets one `sources` row. Run writes live in
``store/runs.py``.

Read-only connections are sandboxed by DuckDB itself (``SANDBOX_CONFIG``): they can read
the database file and nothing else; no other file, no network, no extension, no
setting change. A writable connection refuses a database written by newer code (a schema
version this code does not know) before it writes anything.
"""
from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    import pandas as pd

from cleann.config import default_db_path
from cleann.errors import BadInputError

SCHEMA_VERSION_BASE = 1
_MIGRATION_NAME = re.compile(r"^(\d{3})_([A-Za-z0-9_]+)\.sql$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# DuckDB's own sandbox for every read-only connection (analyst SQL runs on these).
# Given at connect time: the database file (and its WAL) is opened first, then nothing else
# outside it can be touched. Measured on DuckDB 2.0.1 (tests/store/test_sandbox.py):
# read_csv/read_text/read_blob/read_parquet/read_json/glob/sniff_csv, COPY TO/FROM,
# EXPORT DATABASE, ATTACH of other files, INSTALL/LOAD, CREATE SECRET and http URLs raise
# PermissionException; SET/RESET/PRAGMA assignments raise "configuration has been locked".
SANDBOX_CONFIG: dict[str, object] = {
    "enable_external_access": False,   # no file other than the database, no network, no extension load
    "autoload_known_extensions": False,  # no extension pulled in implicitly (e.g. httpfs for a URL)
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "allow_persistent_secrets": False,  # nothing read from or written to ~/.duckdb/stored_secrets
    "temp_directory": "",               # no spill files next to the database
    "lock_configuration": True,         # last: no SET/RESET/PRAGMA can undo the above
}


def connect(
    path: str | Path | None = None,
    read_only: bool = False,
    allowed_directories: Sequence[str | Path] = (),
    settings: Mapping[str, object] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the database (default `default_db_path()`); bring the schema up to date
    unless read-only. A read-only open of a missing file is a user error, not a new file,
    and a read-only connection is sandboxed (``SANDBOX_CONFIG``); ``allowed_directories``
    (read-only only) are folders the sandbox still lets it read and write, for exports.
    Any open refuses (``BadInputError``, nothing written) a file that is not a cleann
    database or holds a table cleann would clash with (``check_cleann_database``); a
    writable open also refuses a database from a newer schema. ``settings`` are further
    DuckDB options of a read-only connection (`cleann sql --memory-limit`), applied at
    start-up, before the sandbox locks the configuration."""
    path = Path(path) if path is not None else default_db_path()
    if read_only and not path.is_file():
        raise BadInputError(f"{path}: no database here (run `cleann ingest` or `cleann demo`)")
    if path.is_dir():
        raise BadInputError(f"{path}: is a folder, not a database file")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if read_only and allowed_directories:
            con = _sandbox_with_directories(path, allowed_directories)
        elif read_only:
            con = duckdb.connect(str(path), read_only=True, config={**(settings or {}), **SANDBOX_CONFIG})
        else:
            con = duckdb.connect(str(path))
    except (duckdb.IOException, duckdb.ConnectionException, duckdb.SerializationException) as exc:
        message = " ".join(str(exc).split())
        raise BadInputError(f"{path}: cannot open the database ({message})") from None
    try:
        check_cleann_database(con, path)
        if read_only:
            _run_corpus_view(con)
        else:
            check_schema(con, path)
            migrate(con)
    except BaseException:
        con.close()
        raise
    return con


# The pattern migration 104 backfills runs.corpus_kind/name/split with ("kind:name:split").
_RUN_CORPUS_LABEL = "'^([^:]+):(.+):([^:]+)$'"


def _run_corpus_view(con: duckdb.DuckDBPyConnection) -> None:
    """The ``runs`` a read-only connection sees, as a temporary view over the stored table
    where needed: migration 104's typed corpus columns when the database was last written
    before it (read-only cannot migrate; parsed as 104 backfills them), and ``status``
    ``abandoned`` for a ``running`` run whose owner process is gone (migration 105,
    ``cleann.store.owner``), so every reader (`cleann query runs`, `cleann sql`, reports)
    tells a dead run from a live one."""
    from cleann.store.owner import ABANDONED, abandoned_run_ids

    database = con.execute("SELECT current_database()").fetchall()[0][0]
    columns = {r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = 'main' "
        "AND table_name = 'runs'", [database]).fetchall()}
    if not columns:
        return
    quoted = '"' + database.replace('"', '""') + '"'
    dead: list[str] = []
    if {"owner_host", "owner_pid", "owner_start"} <= columns:
        dead = abandoned_run_ids(con.execute(
            f"SELECT run_id, owner_host, owner_pid, owner_start FROM {quoted}.main.runs "
            "WHERE status = 'running' AND owner_host IS NOT NULL").fetchall())
    if "corpus_name" in columns and not dead:
        return
    select = "*"
    if dead:
        ids = ", ".join("'" + str(r).replace("'", "''") + "'" for r in dead)
        select = f"* REPLACE (CASE WHEN run_id IN ({ids}) THEN '{ABANDONED}' ELSE status END AS status)"
    if "corpus_name" not in columns:
        select += ", " + ", ".join(f"nullif(regexp_extract(corpus, {_RUN_CORPUS_LABEL}, {i}), '') AS {name}"
                                   for i, name in enumerate(("corpus_kind", "corpus_name", "corpus_split"), 1))
    con.execute(f"CREATE TEMP VIEW runs AS SELECT {select} FROM {quoted}.main.runs")


def _sandbox_with_directories(path: Path, directories: Sequence[str | Path]) -> duckdb.DuckDBPyConnection:
    """The sandbox plus some folders. DuckDB (2.0.1) accepts ``allowed_directories`` only
    after start-up and only while external access is still on, so: open, allow the
    folders, turn external access off, lock. Nothing runs on the connection in between."""
    config = {k: v for k, v in SANDBOX_CONFIG.items()
              if k not in ("enable_external_access", "lock_configuration")}
    con = duckdb.connect(str(path), read_only=True, config=config)
    try:
        # A trailing separator: "/out" must not also allow "/out-other".
        folders = [str(Path(d).resolve()).rstrip("/") + "/" for d in directories]
        con.execute("SET allowed_directories = ?", [folders])
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


# --- is this file ours? --------------------------------------------------------------
# A cleann database is recognised by its schema_version table (schema.sql creates it
# first, with version 1 recorded). Any other non-empty DuckDB file is someone else's:
# migrating it would create our tables beside theirs and then fail on a table of the same
# name (issue 22: 15 tables created in a user's file, then a BinderException). Measured on
# DuckDB 2.0.1: a writable open that only reads leaves the file byte-identical, so the
# check runs on the connection that would write, before any migration.

_Catalog = dict[tuple[str, str], tuple[str, frozenset[str]]]  # (schema, name) -> (kind, columns)


def _catalog(con: duckdb.DuckDBPyConnection) -> _Catalog:
    """Tables and views stored in the connection's database file (temporary ones excluded)."""
    database = con.execute("SELECT current_database()").fetchall()[0][0]
    columns: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in con.execute(
            "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
            "WHERE database_name = ? AND NOT internal", [database]).fetchall():
        columns.setdefault((schema, table), set()).add(column)
    objects = {}
    for kind, sql in (("table", "SELECT schema_name, table_name FROM duckdb_tables() "
                                "WHERE database_name = ? AND NOT temporary AND NOT internal"),
                      ("view", "SELECT schema_name, view_name FROM duckdb_views() "
                               "WHERE database_name = ? AND NOT temporary AND NOT internal")):
        for schema, name in con.execute(sql, [database]).fetchall():
            objects[(schema, name)] = (kind, frozenset(columns.get((schema, name), ())))
    return objects


@lru_cache(maxsize=16)
def _reference_catalog(versions: frozenset[int]) -> dict[str, tuple[str, frozenset[str]]] | None:
    """The tables and views a cleann database with exactly these migrations applied has
    (built once per process in an in-memory DuckDB, ~0.05 s); None if it cannot be built."""
    con = duckdb.connect(":memory:")
    try:
        for version, _, sql in migrations():
            if version in versions:
                con.execute(sql)
        return {name: value for (schema, name), value in _catalog(con).items() if schema == "main"}
    except duckdb.Error:
        return None
    finally:
        con.close()


def _names(names: Sequence[str], limit: int = 5) -> str:
    names = sorted(names)
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_cleann_database(con: duckdb.DuckDBPyConnection, path: str | Path = "database") -> None:
    """Refuse a database file that is not cleann's, or that holds a table or view cleann
    would clash with, before anything is written (one ``BadInputError`` line).

    An empty database is fine (a new file). Otherwise the file must have cleann's
    ``schema_version`` table with version 1 recorded, each cleann table or view it has
    must have (at least) the columns cleann's migrations gave it, and no object may
    take the name of one a pending migration would create."""
    found = _catalog(con)
    if not found:
        return
    main = {name: value for (schema, name), value in found.items() if schema == "main"}
    marker = main.get("schema_version")
    hint = "nothing was changed; use --db with a cleann database or a new file"
    if marker is None or marker[0] != "table" or not {"version", "name"} <= marker[1]:
        shown = _names([n if s == "main" else f"{s}.{n}" for s, n in found])
        raise BadInputError(f"{path}: not a cleann database (it holds {shown} and no cleann "
                            f"schema_version table); {hint}")
    known = {version for version, _, _ in migrations()}
    applied = applied_versions(con)
    if SCHEMA_VERSION_BASE not in applied:
        raise BadInputError(f"{path}: not a cleann database (its schema_version table does not "
                            f"record cleann's schema); {hint}")
    if applied - known:
        return  # newer code wrote it: check_schema refuses writes; readers take it as it is
    expected = _reference_catalog(frozenset(applied))
    everything = _reference_catalog(frozenset(known))
    if expected is None or everything is None:
        return
    clashes = []
    for name, (kind, columns) in expected.items():
        have = main.get(name)
        if have is not None and (have[0] != kind or not columns <= have[1]):
            missing = sorted(columns - have[1])
            why = (f"a {have[0]}, not a {kind}" if have[0] != kind
                   else f"lacks column(s) {_names(missing, 3)}")
            clashes.append(f"{name} ({why})")
    clashes += [f"{name} (cleann would create it)" for name in sorted(everything.keys() - expected.keys())
                if name in main]
    if clashes:
        one = len(clashes) == 1
        raise BadInputError(f"{path}: {'table' if one else 'tables'} {_names(clashes, 3)} "
                            f"{'is' if one else 'are'} not cleann's; {hint}")


def check_database_file(path: str | Path) -> None:
    """Before a command starts: refuse an existing file that is not a cleann database
    (``check_cleann_database``), reading it read-only. A missing or empty file is fine
    (it becomes a new database); a file another process holds for writing is left to
    the command's own open, which checks it too."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return
    try:
        con = duckdb.connect(str(path), read_only=True, config=dict(SANDBOX_CONFIG))
    except (duckdb.IOException, duckdb.ConnectionException, duckdb.SerializationException) as exc:
        message = " ".join(str(exc).split())
        if "lock" in message.lower() or "conflicting" in message.lower():
            return
        raise BadInputError(f"{path}: cannot open the database ({message})") from None
    try:
        check_cleann_database(con, path)
    finally:
        con.close()


def check_schema(con: duckdb.DuckDBPyConnection, path: str | Path = "database") -> None:
    """Refuse a database that records schema versions this code does not know.

    Why: such a database was written by newer code; writing to it with this code could
    break it (e.g. a new NOT NULL column), so nothing is written and the user is told."""
    known = {version for version, _, _ in migrations()}
    unknown = sorted(applied_versions(con) - known)
    if unknown:
        shown = ", ".join(map(str, unknown[:5])) + (" ..." if len(unknown) > 5 else "")
        raise BadInputError(
            f"{path}: database has schema version {shown}, newer than this cleann knows "
            f"(up to {max(known)}); nothing was written; upgrade cleann or use another --db")


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for schema.sql (version 1) and every sql/migrations file."""
    sql_dir = files("cleann.sql")
    found = [(SCHEMA_VERSION_BASE, "schema", sql_dir.joinpath("schema.sql").read_text())]
    migration_dir = sql_dir.joinpath("migrations")
    if migration_dir.is_dir():
        for entry in migration_dir.iterdir():
            match = _MIGRATION_NAME.match(entry.name)
            if match:
                found.append((int(match.group(1)), match.group(2), entry.read_text()))
    versions = [v for v, _, _ in found]
    duplicated = sorted({v for v in versions if versions.count(v) > 1})
    if duplicated:
        raise RuntimeError(f"two migrations share version number(s) {duplicated}")
    return sorted(found)


def applied_versions(con: duckdb.DuckDBPyConnection) -> set[int]:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchall()[0][0]
    if not exists:
        return set()
    return {row[0] for row in con.execute("SELECT version FROM schema_version").fetchall()}


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every migration not yet recorded, in numeric order, each in its own
    transaction. Set difference (not "above the max") because areas own separate
    number ranges (001-099, 1xx, 2xx) that are added in any order."""
    done = applied_versions(con)
    applied = []
    for version, name, sql in migrations():
        if version in done:
            continue
        with transaction(con):
            con.execute(sql)
            con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)",
                        [version, name])
        applied.append(version)
    return applied


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One all-or-nothing write: readers never see half a batch, a failure leaves nothing."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:  # keep the original error, not a follow-up of it
            pass
        raise
    con.execute("COMMIT")


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, df, keys: Sequence[str] | None = None) -> int:
    """Insert a pandas DataFrame or Arrow table into `table` by column name, as one
    statement inside the caller's transaction; returns the number of rows inserted.

    With `keys`, rows whose key already exists in the table are skipped (anti-join), which
    makes re-ingesting the same rows a no-op.
    """
    for name in (table, *(keys or ())):
        if not _IDENTIFIER.match(name):
            raise ValueError(f"not a plain SQL identifier: {name!r}")
    if len(df) == 0:
        return 0
    view = f"_cleann_frame_{uuid.uuid4().hex}"
    sql = f'INSERT INTO "{table}" BY NAME SELECT * FROM "{view}" AS new'
    if keys:
        match = " AND ".join(f'old."{k}" = new."{k}"' for k in keys)
        sql += f' WHERE NOT EXISTS (SELECT 1 FROM "{table}" AS old WHERE {match})'
    con.register(view, df)
    try:
        inserted = int(con.execute(sql).fetchall()[0][0])
    except BaseException:
        # After a failed statement the transaction is aborted and unregister fails with
        # "Current transaction is aborted"; that must not replace the real error.
        try:
            con.unregister(view)
        except duckdb.Error:
            pass
        raise
    con.unregister(view)
    return inserted


# Corpus writes (ingest): idempotent, one transaction per corpus.

DOCUMENT_KEYS = ["corpus", "doc_id"]
INTERACTION_KEYS = ["corpus", "user_id", "item_id", "ts"]
ITEM_KEYS = ["corpus", "item_id"]


@dataclass
class IngestResult:
    """What one ingest did; `already_ingested` means this exact content was seen before."""

    corpus: str
    kind: str
    rows_total: int
    rows_added: int
    rows_skipped: int
    already_ingested: bool
    counts: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        state = "unchanged (already ingested)" if self.already_ingested else "ingested"
        counts = ", ".join(f"{v:,} {k}" for k, v in self.counts.items())
        line = (f"{self.corpus}: {state}; {counts}; {self.rows_added:,} new rows")
        if self.rows_skipped:
            reasons = ", ".join(f"{v} {k}" for k, v in self.skipped.items())
            line += f"; skipped {self.rows_skipped:,} ({reasons})"
            if self.examples:
                line += f", e.g. {', '.join(self.examples[:3])}"
        return line


def content_sha256(*frames: pd.DataFrame) -> str:
    """sha256 over the rows of the frames (order-sensitive, list cells joined)."""
    import pandas as pd

    digest = hashlib.sha256()
    for frame in frames:
        flat = frame.apply(lambda col: col.str.join("|") if _holds_lists(col) else col)
        digest.update(",".join(map(str, flat.columns)).encode())
        digest.update(pd.util.hash_pandas_object(flat, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _holds_lists(col: pd.Series) -> bool:
    """True for a column of lists (items.genres); looks at one value, not every row."""
    if col.dtype != object:
        return False
    values = col.dropna()
    return not values.empty and isinstance(values.iloc[0], (list, tuple))


def ingest_documents(con: duckdb.DuckDBPyConnection, documents: pd.DataFrame) -> IngestResult:
    """Insert a documents frame (one corpus) and record its source, in a transaction of
    its own (call it outside any open transaction)."""
    corpus = _single_corpus(documents)
    counts = {"documents": len(documents)}
    return _ingest(con, corpus, documents.attrs.get("source", {}), counts,
                   [("documents", documents, DOCUMENT_KEYS)], content_sha256(documents))


def ingest_movielens(
    con: duckdb.DuckDBPyConnection, interactions: pd.DataFrame, items: pd.DataFrame
) -> IngestResult:
    """Insert interactions and items (one corpus) and record the source, in one transaction."""
    corpus = _single_corpus(interactions)
    counts = {"ratings": len(interactions), "users": int(interactions["user_id"].nunique()),
              "items": len(items)}
    return _ingest(con, corpus, interactions.attrs.get("source", {}), counts,
                   [("interactions", interactions, INTERACTION_KEYS),
                    ("items", items, ITEM_KEYS)],
                   content_sha256(interactions, items))


def _single_corpus(frame: pd.DataFrame) -> str:
    names = frame["corpus"].unique()
    if len(names) != 1:
        raise ValueError(f"expected one corpus per ingest, got {list(names)}")
    return str(names[0])


def _ingest(con, corpus, info, counts, tables, digest) -> IngestResult:
    skipped = {k: int(v) for k, v in (info.get("skipped") or {}).items()}
    result = IngestResult(
        corpus=corpus, kind=info.get("kind", "unknown"), rows_total=len(tables[0][1]),
        rows_added=0, rows_skipped=sum(skipped.values()), already_ingested=False,
        counts=counts, skipped=skipped, examples=list(info.get("examples") or []))
    with transaction(con):
        seen = con.execute("SELECT count(*) FROM sources WHERE corpus = ? AND content_sha256 = ?",
                           [corpus, digest]).fetchall()[0][0]
        added = {name: insert_frame(con, name, frame, keys) for name, frame, keys in tables}
        result.rows_added = added[tables[0][0]]  # rows of the main table, like rows_total
        result.already_ingested = bool(seen) and not any(added.values())
        if not seen:
            details = {"counts": counts, "added": added, "skipped": skipped,
                       "examples": result.examples}
            con.execute(
                "INSERT INTO sources (corpus, kind, location, version, package_sha256, "
                "content_sha256, rows_total, rows_added, rows_skipped, details) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [corpus, result.kind, info.get("location", ""), info.get("version"),
                 info.get("package_sha256"), digest, result.rows_total, result.rows_added,
                 result.rows_skipped, json.dumps(details)])
    return result


def document_summary(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Documents per text corpus with split and label balance."""
    return con.execute("""
        SELECT corpus, count(*) AS documents,
               count(*) FILTER (split = 'train') AS train, count(*) FILTER (split = 'test') AS test,
               count(*) FILTER (label = 1) AS positive, count(*) FILTER (label = 0) AS negative
        FROM documents GROUP BY corpus ORDER BY corpus
    """).df()


def movielens_summary(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Ratings, distinct users and items per MovieLens corpus."""
    return con.execute("""
        SELECT i.corpus, i.ratings, i.users, coalesce(m.items, 0) AS items
        FROM (SELECT corpus, count(*) AS ratings, count(DISTINCT user_id) AS users
              FROM interactions GROUP BY corpus) AS i
        LEFT JOIN (SELECT corpus, count(*) AS items FROM items GROUP BY corpus) AS m
        USING (corpus) ORDER BY i.corpus
    """).df()
