"""Connection, migrations and frame inserts."""
from __future__ import annotations

from contextlib import closing

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from cleann.errors import BadInputError
from cleann.store import db

V1_TABLES = {"schema_version", "sources", "documents", "interactions", "items", "runs", "samples",
             "tokens", "graph_edges", "explanations", "token_scores", "metrics"}


def tables(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def test_new_database_gets_schema_v1_and_all_migrations(tmp_db):
    with closing(db.connect(tmp_db)) as con:
        assert V1_TABLES <= tables(con)
        versions = [r[0] for r in con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()]
    assert versions == [v for v, _, _ in db.migrations()]
    assert versions[0] == 1


def test_reopening_applies_nothing_again(tmp_db):
    db.connect(tmp_db).close()
    with closing(db.connect(tmp_db)) as con:
        assert db.migrate(con) == []
        counts = con.execute("SELECT version, count(*) FROM schema_version GROUP BY 1").fetchall()
    assert all(n == 1 for _, n in counts)


def test_missing_migration_applied_in_numeric_order(tmp_db, monkeypatch):
    db.connect(tmp_db).close()
    real = db.migrations()
    extra = [(250, "late_eval", "CREATE TABLE t250 (x INTEGER);"),
             (42, "foundation_fix", "CREATE TABLE t42 (x INTEGER);")]
    monkeypatch.setattr(db, "migrations", lambda: sorted(real + extra))
    with closing(db.connect(tmp_db)) as con:
        applied = [r[0] for r in con.execute(
            "SELECT version FROM schema_version WHERE version IN (42, 250) ORDER BY applied_at, version"
        ).fetchall()]
        assert {"t42", "t250"} <= tables(con)
    assert applied == [42, 250]


def test_failed_migration_rolls_back(tmp_db, monkeypatch):
    db.connect(tmp_db).close()
    real = db.migrations()
    monkeypatch.setattr(db, "migrations", lambda: real + [(99, "broken", "CREATE TABLE t99 (x INTEGER); INSERT INTO t99 VALUES ('not a number');")])
    with pytest.raises(duckdb.Error):
        db.connect(tmp_db)
    monkeypatch.setattr(db, "migrations", lambda: real)
    with closing(db.connect(tmp_db)) as con:
        assert "t99" not in tables(con)
        assert 99 not in db.applied_versions(con)


def test_read_only_does_not_create_a_file(tmp_db):
    with pytest.raises(BadInputError, match="no database here"):
        db.connect(tmp_db, read_only=True)
    assert not tmp_db.exists()


def test_read_only_connection_cannot_write(tmp_db):
    db.connect(tmp_db).close()
    with closing(db.connect(tmp_db, read_only=True)) as con:
        with pytest.raises(duckdb.Error):
            con.execute("DELETE FROM documents")


def test_insert_frame_by_name_pandas_and_arrow(tmp_db):
    with closing(db.connect(tmp_db)) as con:
        frame = pd.DataFrame({"label": [1, 0], "text": ["a", "b"], "doc_id": ["1", "2"],
                              "split": ["train", "test"], "source": "s", "corpus": "c"})
        assert db.insert_frame(con, "documents", frame) == 2
        arrow = pa.table({"corpus": ["c"], "item_id": [5], "title": ["T"], "genres": [["A", "B"]]})
        assert db.insert_frame(con, "items", arrow) == 1
        assert con.execute("SELECT genres FROM items").fetchall() == [(["A", "B"],)]
        assert con.execute("SELECT doc_id, label FROM documents ORDER BY 1").fetchall() == [("1", 1), ("2", 0)]


def test_insert_frame_with_keys_skips_existing(tmp_db):
    with closing(db.connect(tmp_db)) as con:
        rows = pd.DataFrame({"corpus": "c", "user_id": [1, 1], "item_id": [2, 3],
                             "rating": [4.0, 5.0], "ts": [10, 11]})
        keys = ["corpus", "user_id", "item_id", "ts"]
        assert db.insert_frame(con, "interactions", rows, keys) == 2
        more = pd.concat([rows, rows.assign(item_id=[7, 8])])
        assert db.insert_frame(con, "interactions", more, keys) == 2
        assert con.execute("SELECT count(*) FROM interactions").fetchall()[0][0] == 4


def test_insert_frame_inside_callers_transaction(tmp_db):
    with closing(db.connect(tmp_db)) as con:
        con.execute("BEGIN TRANSACTION")
        db.insert_frame(con, "metrics", pd.DataFrame(
            {"run_id": ["r"], "sample_id": [""], "explainer": ["e"], "metric": ["m"], "value": [1.0]}))
        con.execute("ROLLBACK")
        assert con.execute("SELECT count(*) FROM metrics").fetchall()[0][0] == 0


def test_insert_frame_rejects_odd_identifiers(tmp_db):
    with closing(db.connect(tmp_db)) as con, pytest.raises(ValueError, match="identifier"):
        db.insert_frame(con, "documents; DROP TABLE runs", pd.DataFrame({"x": [1]}))


def test_explanations_positions_are_an_integer_list(tmp_db):
    with closing(db.connect(tmp_db)) as con:
        db.insert_frame(con, "explanations", pd.DataFrame({
            "run_id": ["r"], "sample_id": ["s"], "head": [-1], "explainer": ["cleann"], "rank": [0],
            "positions": [[3, 7]], "size": [2]}))
        assert con.execute("SELECT list_sum(positions), typeof(positions) FROM explanations"
                           ).fetchall() == [(10, "INTEGER[]")]


def _sha(path):
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_newer_schema_is_refused_and_nothing_written(tmp_db):
    with closing(db.connect(tmp_db)) as con:
        con.execute("INSERT INTO schema_version (version, name) VALUES (999, 'from_the_future')")
        con.execute("CHECKPOINT")
    before = _sha(tmp_db)
    with pytest.raises(BadInputError) as err:
        db.connect(tmp_db)
    message = str(err.value)
    assert "schema version 999" in message and "nothing was written" in message and "\n" not in message
    assert _sha(tmp_db) == before and not tmp_db.with_name(tmp_db.name + ".wal").exists()
    with closing(db.connect(tmp_db, read_only=True)) as con:  # reading it is still allowed
        assert con.execute("SELECT max(version) FROM schema_version").fetchall()[0][0] == 999


def test_unknown_version_inside_known_range_is_refused(tmp_db):
    """Areas own number ranges (0xx, 1xx, 2xx, 3xx): a version this code lacks is newer code,
    even when it is below our highest version."""
    known = {v for v, _, _ in db.migrations()}
    gap = next(v for v in range(2, max(known)) if v not in known)
    with closing(db.connect(tmp_db)) as con:
        con.execute("INSERT INTO schema_version (version, name) VALUES (?, 'gap')", [gap])
    with pytest.raises(BadInputError, match=f"schema version {gap}, newer than this cleann knows"):
        db.connect(tmp_db)


def test_newer_schema_refused_by_writers_and_run_status(tmp_db):
    """Writers open through `open_db`; marking a run failed must not write either."""
    from cleann.store.runs import mark_run_failed, open_db

    with closing(db.connect(tmp_db)) as con:
        con.execute("INSERT INTO schema_version (version, name) VALUES (999, 'from_the_future')")
        con.execute("INSERT INTO runs (run_id, status) VALUES ('r', 'running')")
        con.execute("CHECKPOINT")
    before = _sha(tmp_db)
    with pytest.raises(BadInputError, match="schema version 999"):
        with open_db(tmp_db, wait_s=0):
            pass
    with pytest.raises(BadInputError, match="schema version 999"):
        mark_run_failed(tmp_db, "r", "boom")
    assert _sha(tmp_db) == before


def test_failed_insert_keeps_the_real_error(tmp_db):
    """A newer schema's NOT NULL column: the constraint error, not 'transaction is aborted'."""
    with closing(db.connect(tmp_db)) as con:
        con.execute("ALTER TABLE sources ADD COLUMN required_later VARCHAR")
        con.execute("CREATE TABLE strict (a INTEGER, b INTEGER NOT NULL)")
        with pytest.raises(duckdb.ConstraintException, match="NOT NULL constraint failed"):
            with db.transaction(con):
                db.insert_frame(con, "strict", pd.DataFrame({"a": [1]}))
        assert con.execute("SELECT count(*) FROM strict").fetchall()[0][0] == 0
        # the connection is usable afterwards (rolled back, view unregistered)
        with db.transaction(con):
            assert db.insert_frame(con, "strict", pd.DataFrame({"a": [1], "b": [2]})) == 1


def test_database_path_that_is_a_folder_is_one_line(tmp_path):
    with pytest.raises(BadInputError, match="is a folder"):
        db.connect(tmp_path)
    with pytest.raises(BadInputError, match="is a folder|no database"):
        db.connect(tmp_path, read_only=True)
