"""Migration 104: runs.corpus_kind/name/split replace splitting the "kind:name:split" label.

A database written before 104 (every other migration applied, runs rows with only the
packed label) is upgraded in place by a writable open, backfilled, and the rec queries
and the export return the same rows as the pre-104 SQL did; read-only opens of the old
file (which cannot migrate) see the same typed columns.
"""
from __future__ import annotations

import json
import re
from contextlib import closing
from importlib.resources import files
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from cleann.pipeline.params import ExplainParams
from cleann.store import db
from cleann.store.queries import ensure_word_objects, get_query, run_query
from cleann.store.runs import register_run

OLD_LABELS = {  # run id -> the label pre-104 code wrote, and the typed columns 104 derives
    "r1": ("movielens:ml-t:test", ("movielens", "ml-t", "test")),
    "s1": ("imdb:tiny:all", ("imdb", "tiny", "all")),
    "c1": ("movielens:my:corpus:test", ("movielens", "my:corpus", "test")),  # a name with ':'
    "odd": ("not-a-label", (None, None, None)),
    "none": (None, (None, None, None)),
}
PRE_104_CTE = "WITH r AS (SELECT split_part(corpus, ':', 2) AS corpus FROM runs WHERE run_id = $run),"
REC_QUERIES = ("rec_causal_movies", "rec_causal_genres")


def _old_database(path: Path) -> None:
    """A database as the code before migration 104 left it, with one rec run's rows."""
    with closing(duckdb.connect(str(path))) as con:
        for version, name, sql in db.migrations():
            if version == 104:
                continue
            con.execute(sql)
            con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [version, name])
        assert "corpus_name" not in _columns(con)
        for run_id, (label, _) in OLD_LABELS.items():
            con.execute("INSERT INTO runs (run_id, kind, corpus, status) VALUES (?, ?, ?, 'completed')",
                        [run_id, "sentiment" if run_id == "s1" else "rec", label])
        db.insert_frame(con, "samples", pd.DataFrame(
            [{"run_id": "r1", "sample_id": s, "pred": p, "status": "ok"} for s, p in (("1", 99), ("2", 98))]))
        db.insert_frame(con, "tokens", pd.DataFrame(
            [{"run_id": "r1", "sample_id": s, "pos": p, "token_id": i, "token": str(i), "word_idx": p,
              "is_special": p == 2}
             for s, ids in (("1", [10, 11, 12]), ("2", [11, 12, 10])) for p, i in enumerate(ids)]))
        db.insert_frame(con, "explanations", pd.DataFrame([
            {"run_id": "r1", "sample_id": "1", "head": 0, "explainer": "cleann", "rank": 0, "positions": [0],
             "size": 1},
            {"run_id": "r1", "sample_id": "2", "head": 1, "explainer": "cleann", "rank": 0, "positions": [0, 1],
             "size": 2}]))
        # Same item ids in two corpora: the queries must pick the run's own corpus.
        for corpus, titles in (("ml-t", ["Alpha", "Beta", "Gamma"]), ("other", ["X", "Y", "Z"])):
            db.insert_frame(con, "items", pd.DataFrame({
                "corpus": corpus, "item_id": [10, 11, 12], "title": titles,
                "genres": [["Drama"], ["Comedy", "Drama"], ["Comedy"]] if corpus == "ml-t" else [["Noir"]] * 3}))


def _columns(con) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'runs'").fetchall()}


def _typed(con) -> dict:
    return {r[0]: tuple(r[1:]) for r in con.execute(
        "SELECT run_id, corpus_kind, corpus_name, corpus_split FROM runs").fetchall()}


def _pre_104_rows(path: Path, name: str) -> list[tuple]:
    """What the query as written before 104 (splitting the label) returns on the old file."""
    query = get_query(name)
    assert query.sql.count("WITH r AS (") == 1
    old_sql = re.sub(r"WITH r AS \(.*?\),\n", PRE_104_CTE + "\n", query.sql, count=1)
    assert "split_part(corpus" in old_sql
    with closing(duckdb.connect(str(path), read_only=True)) as con:
        ensure_word_objects(con)
        frame = con.execute(old_sql, {"run": "r1", **query.defaults, "min_support": 1}).df()
    return _rows(frame)


def _rows(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(None if pd.isna(v) else v for v in r) for r in frame.itertuples(index=False, name=None)]


@pytest.fixture()
def old_db(tmp_path) -> Path:
    path = tmp_path / "old.duckdb"
    _old_database(path)
    return path


def test_old_database_is_upgraded_and_backfilled(old_db):
    with closing(db.connect(old_db)) as con:
        assert 104 in db.applied_versions(con)
        assert {"corpus_kind", "corpus_name", "corpus_split"} <= _columns(con)
        assert _typed(con) == {run_id: typed for run_id, (_, typed) in OLD_LABELS.items()}
        # The label is kept as it was.
        assert dict(con.execute("SELECT run_id, corpus FROM runs").fetchall()) == {
            run_id: label for run_id, (label, _) in OLD_LABELS.items()}


def test_migration_is_idempotent(old_db):
    sql = files("cleann.sql").joinpath("migrations", "104_run_corpus.sql").read_text()
    with closing(db.connect(old_db)) as con:
        con.execute("UPDATE runs SET corpus_name = 'edited' WHERE run_id = 'r1'")
        con.execute(sql)  # run again: no error, and typed values already there are not overwritten
        assert db.migrate(con) == []
        assert _typed(con)["r1"] == ("movielens", "edited", "test")
        assert _typed(con)["s1"] == OLD_LABELS["s1"][1]
    with closing(db.connect(old_db)) as con:
        assert con.execute("SELECT count(*) FROM schema_version WHERE version = 104").fetchall()[0][0] == 1


@pytest.mark.parametrize("name", REC_QUERIES)
def test_rec_queries_return_the_pre_104_rows(old_db, name):
    before = _pre_104_rows(old_db, name)
    assert before and all(r[0] is not None for r in before)
    # Read-only on the old file (cannot migrate: typed columns come from a temporary view) ...
    read_only = _rows(run_query(name, old_db, "r1", {"min_support": 1}))
    with closing(db.connect(old_db, read_only=True)) as con:
        assert "corpus_name" not in _columns(con)
    # ... and after the in-place upgrade.
    db.connect(old_db).close()
    upgraded = _rows(run_query(name, old_db, "r1", {"min_support": 1}))
    assert read_only == upgraded == before
    if name == "rec_causal_movies":  # titles come from the run's corpus, not the other one
        assert {r[1] for r in upgraded} <= {"Alpha", "Beta", "Gamma"}
    else:
        assert {r[0] for r in upgraded} == {"Comedy", "Drama"}


def test_read_only_view_matches_the_backfill(old_db):
    with closing(db.connect(old_db, read_only=True)) as con:
        viewed = _typed(con)
        assert con.execute("SELECT count(*) FROM runs").fetchall()[0][0] == len(OLD_LABELS)
    with closing(db.connect(old_db)) as con:
        assert _typed(con) == viewed
    with closing(db.connect(old_db, read_only=True)) as con:  # migrated file: no view needed
        assert con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'runs'").fetchall()[0][0] == 0
        assert _typed(con) == viewed


def test_export_of_old_database_finds_the_runs_items(old_db, tmp_path):
    from cleann.export import export_run

    tables = {t.name: t.rows for t in export_run("r1", tmp_path / "out", db_path=old_db)}
    assert tables["items"] == 3
    items = pd.read_parquet(tmp_path / "out" / "items.parquet")
    assert set(items["corpus"]) == {"ml-t"}
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet")
    assert runs[["corpus_kind", "corpus_name", "corpus_split"]].iloc[0].tolist() == ["movielens", "ml-t", "test"]
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["corpus"] == "movielens:ml-t:test"


@pytest.mark.parametrize("kind,name,split", [("imdb", "tiny", "train"), ("movielens", "ml-t", "all")])
def test_new_run_writes_the_typed_columns(tmp_db, kind, name, split):
    params = ExplainParams(corpus_kind=kind, corpus_name=name, split=split)
    with closing(db.connect(tmp_db)) as con:
        assert register_run(con, "r", params, "/models/m", "0" * 64)
        got = con.execute("SELECT corpus, corpus_kind, corpus_name, corpus_split FROM runs").fetchall()
    assert got == [(f"{kind}:{name}:{split}", kind, name, split)]


def test_no_code_splits_the_corpus_label():
    root = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"split_part\(\s*\(?\s*(SELECT\s+)?(\w+\.)?corpus\b|corpus\"?\)?[^\n]{0,20}\.split\(\":\"\)",
                         re.IGNORECASE)
    offenders = [str(p.relative_to(root)) for folder in ("sql/queries", "cleann")
                 for p in sorted((root / folder).rglob("*")) if p.suffix in (".sql", ".py")
                 if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
    assert pattern.search("WITH r AS (SELECT split_part(corpus, ':', 2) AS corpus FROM runs)")
    assert pattern.search("split_part((SELECT corpus FROM runs WHERE run_id = $run), ':', 2)")
    assert pattern.search('corpus = str(run.get("corpus") or "").split(":")')


@pytest.mark.parametrize("upgraded", [False, True])
def test_report_shows_titles_from_the_runs_corpus(old_db, upgraded):
    from cleann.report.data import _one, sample_detail

    if upgraded:
        db.connect(old_db).close()
    with closing(db.connect(old_db, read_only=True)) as con:
        run = _one(con, "SELECT * FROM runs WHERE run_id = ?", ["r1"])
        detail = sample_detail(con, run, "1")
    assert detail.tokens["token"].tolist() == ["Alpha", "Beta", "Gamma"]
