"""CLI: `cleann sql`, `cleann ingest`, `cleann demo` as a user calls them."""
from __future__ import annotations

import csv
import io
import json
from contextlib import closing

import pandas as pd
import pytest

from cleann.cli import main
from cleann.store import db


@pytest.fixture
def small_db(tmp_db):
    with closing(db.connect(tmp_db)) as con:
        con.execute("INSERT INTO documents VALUES ('a', '1', 'train', 'x', 1, 's'), "
                    "('a', '2', 'test', 'y', 0, 's'), ('b', '3', 'train', 'z', 1, 's')")
    return tmp_db


@pytest.mark.parametrize("command", ["ingest", "sql", "demo"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"cleann {command}" in capsys.readouterr().out


def test_sql_prints_a_table(small_db, capsys):
    code = main(["sql", "SELECT corpus, count(*) AS n FROM documents GROUP BY 1 ORDER BY 1",
                 "--db", str(small_db)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[0].split() == ["corpus", "n"]
    assert [line.split() for line in lines[1:]] == [["a", "2"], ["b", "1"]]


def test_sql_csv_and_json(small_db, capsys):
    main(["sql", "SELECT doc_id FROM documents ORDER BY 1", "--db", str(small_db), "--format", "csv"])
    assert capsys.readouterr().out.split() == ["doc_id", "1", "2", "3"]
    main(["sql", "SELECT doc_id, label FROM documents ORDER BY 1", "--db", str(small_db), "--format", "json"])
    assert json.loads(capsys.readouterr().out)[0] == {"doc_id": "1", "label": 1}


def test_sql_json_is_one_document_for_several_statements(small_db, capsys):
    main(["sql", "SELECT count(*) AS n FROM documents; SELECT doc_id FROM documents ORDER BY 1 LIMIT 1",
          "--db", str(small_db), "--format", "json"])
    assert json.loads(capsys.readouterr().out) == [[{"n": 3}], [{"doc_id": "1"}]]


def test_query_list_formats(capsys):
    """`query --list` in the three formats: the same queries (one per sql/queries/*.sql file)."""
    from importlib.resources import files

    names = sorted(e.name[:-4] for e in files("cleann.sql").joinpath("queries").iterdir() if e.name.endswith(".sql"))
    out = {}
    for fmt in ("json", "csv", "table"):
        assert main(["query", "--list", "--format", fmt]) == 0
        out[fmt] = capsys.readouterr().out
    doc = json.loads(out["json"])
    rows = list(csv.DictReader(io.StringIO(out["csv"])))
    assert [r["name"] for r in doc] == names and list(doc[0]) == ["name", "kind", "description", "params"]
    assert rows == [{k: str(v) for k, v in r.items()} for r in doc]
    table = [line for line in out["table"].splitlines() if not line.startswith(" ")]
    assert table == [f"{r['name']:22s} [{r['kind']}] {r['description']}" for r in doc]


def test_sql_write_refused_without_traceback(small_db, capsys):
    code = main(["sql", "DROP TABLE documents", "--db", str(small_db)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("cleann: error: refused: DROP") and err.count("\n") == 1
    assert main(["sql", "SELECT count(*) FROM documents", "--db", str(small_db)]) == 0


def test_sql_missing_database(tmp_path, capsys):
    assert main(["sql", "SELECT 1", "--db", str(tmp_path / "none.duckdb")]) == 2
    assert "no database here" in capsys.readouterr().err


def test_ingest_usage_error_before_any_flow(capsys):
    assert main(["ingest", "imdb", "--source", "csv"]) == 2
    assert "needs --path" in capsys.readouterr().err
    assert main(["ingest", "movielens", "--source", "hf"]) == 2


@pytest.mark.flow
def test_ingest_bad_file_is_one_line_error(prefect_harness, tmp_path, tmp_db, capsys):
    path = tmp_path / "x.csv"
    path.write_text("body,stars\nhello,5\n")
    code = main(["ingest", "imdb", "--source", "csv", "--path", str(path), "--db", str(tmp_db)])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert err[-1].startswith("cleann: error:") and "missing column(s)" in err[-1]


@pytest.mark.flow
def test_ingest_movielens_folder(prefect_harness, tmp_path, tmp_db, capsys):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings.dat").write_text("1::10::5::1\n1::20::3::2\nbroken line\n")
    (folder / "movies.dat").write_text("10::A (1990)::Drama\n20::B (1991)::Comedy|Drama\n")
    args = ["ingest", "movielens", "--source", "ml-1m", "--path", str(folder), "--db", str(tmp_db)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "2 ratings, 1 users, 2 items" in out and "skipped 1 (1 malformed line)" in out
    assert main(args) == 0
    assert "unchanged (already ingested)" in capsys.readouterr().out
    # --format json: stdout is one document (progress and Prefect logs go to stderr); csv: the same as a row
    assert main([*args, "--format", "json"]) == 0
    (doc,) = json.loads(capsys.readouterr().out)
    assert doc["already_ingested"] and doc["counts"] == {"ratings": 2, "users": 1, "items": 2}
    assert main([*args, "--format", "csv"]) == 0
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert row["corpus"] == doc["corpus"] and row["already_ingested"] == "True"
    assert {k: int(row[f"counts.{k}"]) for k in doc["counts"]} == doc["counts"]


@pytest.mark.slow
@pytest.mark.flow
def test_ingest_real_offline_corpora_twice(prefect_harness, tmp_db, capsys):
    """The done-when numbers, on the real pinned artifacts (fetched once into the cache).

    `cleann demo` runs these same ingests first, then trains and explains (too long here)."""
    for _ in range(2):
        assert main(["ingest", "imdb", "--db", str(tmp_db)]) == 0
        assert main(["ingest", "movielens", "--db", str(tmp_db)]) == 0
        capsys.readouterr()
        with closing(db.connect(tmp_db, read_only=True)) as con:
            docs = dict(con.execute("SELECT corpus, count(*) FROM documents GROUP BY 1").fetchall())
            ml = con.execute("SELECT count(*), count(DISTINCT user_id), count(DISTINCT item_id) "
                             "FROM interactions WHERE corpus = 'ml-100k'").fetchall()[0]
            items = con.execute("SELECT count(*) FROM items").fetchall()[0][0]
        assert docs == {"pang_lee_reviews": 1500, "pang_lee_sentences": 4000, "rt_snippets": 12808}
        assert ml == (100000, 943, 1682) and items == 1682
