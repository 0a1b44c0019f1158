"""Idempotent ingest and source provenance."""
from __future__ import annotations

from contextlib import closing

import pandas as pd

from cleann.sources.catalog import ingest_source, plan_sources
from cleann.sources.text import load_table
from cleann.store import db
from cleann.store.db import document_summary, ingest_documents, ingest_movielens, movielens_summary


def write_reviews(path, texts, labels):
    pd.DataFrame({"text": texts, "label": labels}).to_csv(path, index=False)
    return path


def test_same_source_twice_adds_nothing(tmp_path, tmp_db):
    path = write_reviews(tmp_path / "r.csv", ["good", "bad", "fine"], [1, 0, 1])
    with closing(db.connect(tmp_db)) as con:
        first = ingest_documents(con, load_table(path, "r"))
        second = ingest_documents(con, load_table(path, "r"))
        assert (first.rows_added, first.already_ingested) == (3, False)
        assert (second.rows_added, second.already_ingested) == (0, True)
        assert con.execute("SELECT count(*) FROM documents").fetchall()[0][0] == 3
        assert con.execute("SELECT count(*) FROM sources").fetchall()[0][0] == 1


def test_changed_source_is_recorded_and_only_new_rows_added(tmp_path, tmp_db):
    path = tmp_path / "r.csv"
    with closing(db.connect(tmp_db)) as con:
        ingest_documents(con, load_table(write_reviews(path, ["good", "bad"], [1, 0]), "r"))
        result = ingest_documents(con, load_table(write_reviews(path, ["good", "bad", "new"], [1, 0, 1]), "r"))
        assert result.rows_added == 1 and not result.already_ingested
        sources = con.execute("SELECT rows_total, rows_added FROM sources ORDER BY fetched_at").fetchall()
        assert sources == [(2, 2), (3, 1)]
        (summary,) = document_summary(con).to_dict("records")
        assert (summary["corpus"], summary["documents"]) == ("r", 3)
        assert (summary["positive"], summary["negative"]) == (2, 1)
        assert summary["train"] + summary["test"] == 3


def test_skipped_rows_are_recorded(tmp_path, tmp_db):
    path = write_reviews(tmp_path / "r.csv", ["good", "", "bad"], [1, 0, 0])
    with closing(db.connect(tmp_db)) as con:
        result = ingest_documents(con, load_table(path, "r"))
        assert result.rows_skipped == 1 and "1 empty text" in result.summary()
        assert con.execute("SELECT rows_skipped, details->>'$.skipped.\"empty text\"' FROM sources"
                           ).fetchall() == [(1, "1")]


def test_movielens_ingest_counts_and_idempotency(tmp_path, tmp_db):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text("1\t10\t5\t100\n2\t10\t3\t101\n2\t20\t4\t102\n")
    flags = "|".join(["0"] * 18 + ["1"])
    (folder / "u.item").write_text(f"10|A (1990)|||u|{flags}\n20|B (1991)|||u|{flags}\n")
    (spec,) = plan_sources("movielens", "ml-100k", str(folder))
    first = ingest_source(tmp_db, spec)
    again = ingest_source(tmp_db, spec)
    assert first.counts == {"ratings": 3, "users": 2, "items": 2}
    assert again.already_ingested and again.rows_added == 0
    with closing(db.connect(tmp_db, read_only=True)) as con:
        assert movielens_summary(con).to_dict("records") == [
            {"corpus": "ml-100k", "ratings": 3, "users": 2, "items": 2}]
        assert con.execute("SELECT genres FROM items WHERE item_id = 10").fetchall() == [(["Western"],)]
