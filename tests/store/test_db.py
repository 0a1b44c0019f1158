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
