"""Export one run's rows as Parquet files (`cleann export RUN_ID -o DIR`).

Why: the database is one DuckDB file that only one process may write, and `cleann sql` is
sandboxed (no file access), so analysts need a way to hand a run to pandas, a notebook or
another DuckDB. This module opens its own read-only connection and writes with DuckDB's
``COPY (SELECT ...) TO`` into file names it builds itself (``DIR/<table>.parquet``), with
the run id passed as a query parameter: no user SQL, nothing written outside DIR.

Exported: every table with a ``run_id`` column (runs, samples, tokens, graph_edges,
explanations, explain_heads, token_scores, metrics, evaluations, ...), the ``words`` view,
and the corpus rows the run refers to (``documents`` of its samples for text runs,
``items`` of its histories for recommendation runs). ``manifest.json`` (written last)
lists each file with its row count and an order-independent checksum
(``sum(hash(row))``), which :func:`table_checksum` recomputes on the Parquet file.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from cleann.errors import BadInputError

MANIFEST = "manifest.json"
_RUN_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_TABLE = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class ExportedTable:
    name: str
    file: str
    rows: int
    checksum: str


def _sources(con: duckdb.DuckDBPyConnection, run: dict) -> dict[str, str]:
    """Table name -> SELECT over that table's rows of the run ($run is the run id)."""
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_columns() WHERE column_name = 'run_id' AND schema_name = 'main' "
        "AND table_name IN (SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main') "
        "ORDER BY table_name").fetchall()]
    out = {t: f'SELECT * FROM "{t}" WHERE run_id = $run' for t in tables if _TABLE.match(t)}
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    if "words" in views:
        out["words"] = "SELECT * FROM words WHERE run_id = $run"
    corpus = "(SELECT corpus_name FROM runs WHERE run_id = $run)"
    if run.get("kind") == "rec":
        out["items"] = (f"SELECT * FROM items WHERE corpus = {corpus} AND item_id IN "
                        "(SELECT token_id FROM tokens WHERE run_id = $run)")
    elif run.get("kind") == "sentiment":
        out["documents"] = (f"SELECT * FROM documents WHERE corpus = {corpus} AND doc_id IN "
                            "(SELECT sample_id FROM samples WHERE run_id = $run)")
    return dict(sorted(out.items()))


def table_checksum(con: duckdb.DuckDBPyConnection, select: str, params: dict | None = None) -> tuple[int, str]:
    """(row count, sum of row hashes as text) of a SELECT: equal rows give equal sums in any order."""
    rows, total = con.execute(f"SELECT count(*), coalesce(sum(hash(t))::HUGEINT, 0) FROM ({select}) t",
                              params or {}).fetchall()[0]
    return int(rows), str(total)


def _literal(path: Path) -> str:
    text = str(path)
    if any(c in text for c in "\0\n\r"):
        raise BadInputError(f"{text!r}: output path has a control character")
    return "'" + text.replace("'", "''") + "'"


def check_output_dir(out: str | Path, force: bool) -> Path:
    """The output folder, refused if it is a file or a non-empty folder (unless ``force``)."""
    path = Path(out).expanduser().absolute()
    _literal(path)
    if path.exists() and not path.is_dir():
        raise BadInputError(f"{path}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise BadInputError(f"{path}: folder is not empty (pass --force to write into it)")
    if not path.exists() and path.parent.exists() and not path.parent.is_dir():
        raise BadInputError(f"{path.parent}: is not a folder")
    return path


def export_run(run_id: str, out: str | Path, db_path: str | Path | None = None, force: bool = False,
               wait_s: float = 10.0) -> list[ExportedTable]:
    """Write every row of ``run_id`` as ``out/<table>.parquet`` plus ``manifest.json``."""
    from cleann.config import default_db_path
    from cleann.store.runs import open_db

    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise BadInputError(f"run id {run_id!r}: expected letters, digits, '.', ':', '_' or '-' "
                            "(`cleann query runs` lists them)")
    path = check_output_dir(out, force)
    db = Path(db_path) if db_path is not None else default_db_path()
    # The sandboxed read-only connection may write only into the output folder.
    with open_db(db, read_only=True, wait_s=wait_s, allowed_directories=[path]) as con:
        cur = con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
        found = cur.fetchall()
        if not found:
            raise BadInputError(f"run {run_id!r} is not in {db} (`cleann query runs` lists them)")
        run = dict(zip([d[0] for d in cur.description], found[0]))
        from cleann.store.queries import ensure_word_objects

        ensure_word_objects(con)
        sources = _sources(con, run)
        path.mkdir(parents=True, exist_ok=True)
        _remove_previous(path)
        written = []
        params = {"run": run_id}
        for name, select in sources.items():
            target = path / f"{name}.parquet"
            con.execute(f"COPY ({select}) TO {_literal(target)} (FORMAT parquet, COMPRESSION zstd)", params)
            rows, checksum = table_checksum(con, select, params)
            written.append(ExportedTable(name, target.name, rows, checksum))
    manifest = {
        "run_id": run_id, "kind": run.get("kind"), "corpus": run.get("corpus"), "database": str(db),
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "checksum": "sum(hash(row)) over the table's rows, as DuckDB computes it (order-independent)",
        "tables": {t.name: {"file": t.file, "rows": t.rows, "checksum": t.checksum} for t in written},
    }
    (path / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return written


def _remove_previous(path: Path) -> None:
    """With --force: drop the files a previous export listed, so no stale table stays behind."""
    manifest = path / MANIFEST
    if not manifest.is_file():
        return
    try:
        tables = json.loads(manifest.read_text(encoding="utf-8")).get("tables", {})
    except (OSError, ValueError):
        return
    for entry in tables.values():
        name = str(entry.get("file", ""))
        if re.fullmatch(r"[a-z_][a-z0-9_]*\.parquet", name):
            (path / name).unlink(missing_ok=True)
    manifest.unlink()
