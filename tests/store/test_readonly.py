"""`cleann sql` guard: reads run, writes are refused before and by the connection."""
from __future__ import annotations

from contextlib import closing

import pytest

from cleann.errors import BadInputError
from cleann.store import db
from cleann.store.readonly import check_read_only, query


@pytest.fixture
def filled_db(tmp_db):
    with closing(db.connect(tmp_db)) as con:
        con.execute("INSERT INTO documents VALUES ('c', 'd1', 'train', 't', 1, 's'), "
                    "('c', 'd2', 'test', 'u', 0, 's')")
    return tmp_db


def test_select_runs(filled_db):
    (frame,) = query("SELECT corpus, count(*) AS n FROM documents GROUP BY 1", filled_db)
    assert frame.to_dict("records") == [{"corpus": "c", "n": 2}]


@pytest.mark.parametrize("sql,kind", [
    ("DELETE FROM documents", "DELETE"),
    ("INSERT INTO documents SELECT * FROM documents", "INSERT"),
    ("CREATE TABLE x (i INTEGER)", "CREATE"),
    ("DROP TABLE documents", "DROP"),
    ("ATTACH 'other.duckdb' AS o", "ATTACH"),
    ("COPY documents TO 'out.csv'", "COPY"),
    ("SELECT 1; UPDATE documents SET label = 0", "UPDATE"),
])
def test_writes_refused_with_clear_message(filled_db, sql, kind):
    with pytest.raises(BadInputError, match=f"refused: {kind} statements are not allowed"):
        query(sql, filled_db)
    (frame,) = query("SELECT count(*) AS n FROM documents", filled_db)
    assert frame["n"][0] == 2


def test_bad_sql_is_a_one_line_error(filled_db):
    with pytest.raises(BadInputError) as err:
        query("SELECT * FROM nope", filled_db)
    assert "\n" not in str(err.value) and "nope" in str(err.value)
    with pytest.raises(BadInputError, match="does not parse"):
        check_read_only("SELEKT 1")
