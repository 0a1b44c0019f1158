"""`cleann sql` cannot read or write anything outside its database, whatever the statement.

Each attack goes through the real CLI entry point and must end with exit code 2 and one
line on stderr, with: the canary's secret not in the output, no new file anywhere in the
test folder (the target path included), the other database and the queried database
unchanged byte for byte, nothing under $HOME. A second test sends the same statements
straight to the sandboxed connection, skipping the friendly statement check, to show the
connection itself is the boundary.
"""
from __future__ import annotations

import hashlib
import shutil
from contextlib import closing
from pathlib import Path

import duckdb
import pytest

from cleann.cli import main
from cleann.store import db

SECRET = "CANARY-7f3a9c-do-not-leak"
HIDDEN_NAME = "hidden-b81e2d"  # a file name that only a directory listing could reveal

ATTACKS = [
    # writes to other files
    "COPY documents TO '{target}'",
    "COPY (SELECT 'gone' AS x) TO '{other}' (FORMAT csv, HEADER false)",
    "EXPLAIN ANALYZE COPY (SELECT 'gone' AS x) TO '{other}' (FORMAT csv, HEADER false)",
    "EXPLAIN ANALYZE COPY (SELECT 1 AS x) TO '{target}'",
    "EXPORT DATABASE '{target}'",
    "COPY FROM DATABASE cleann_db TO other",
    "SELECT 1; COPY (SELECT 1 AS x) TO '{target}'",
    "ATTACH '{target}' AS fresh",
    "ATTACH '{other}' AS o; DELETE FROM o.documents",
    "CREATE PERSISTENT SECRET leak (TYPE s3, KEY_ID 'a', SECRET 'b')",
    "CREATE SECRET leak (TYPE s3, KEY_ID 'a', SECRET 'b')",
    "CALL enable_logging(storage_path='{target}')",
    "PRAGMA profiling_output='{target}'",
    # reads of other files
    "SELECT * FROM read_csv('{canary}', header=false)",
    "SELECT * FROM read_text('{canary}')",
    "SELECT * FROM read_blob('{canary}')",
    "SELECT * FROM read_json('{canary}')",
    "SELECT * FROM read_json_objects('{canary}')",
    "SELECT * FROM read_parquet('{canary}')",
    "SELECT * FROM parquet_metadata('{canary}')",
    "SELECT * FROM sniff_csv('{canary}')",
    "SELECT * FROM '{canary}'",
    "SELECT * FROM glob('{folder}/*')",
    "SELECT * FROM read_text('{folder}/*')",
    "SELECT * FROM query('SELECT * FROM read_text(''{canary}'')')",
    "WITH s AS (SELECT * FROM read_text('{canary}')) SELECT content FROM s",
    "EXPLAIN ANALYZE SELECT * FROM read_text('{canary}')",
    "SELECT * FROM read_csv('/etc/passwd', header=false, sep=':')",
    "COPY documents FROM '{canary}'",
    "IMPORT DATABASE '{folder}'",
    "ATTACH '{other}' AS o (READ_ONLY); SELECT * FROM o.documents",
    "SELECT 1; SELECT * FROM read_text('{canary}')",
    # extensions and the network
    "INSTALL httpfs",
    "LOAD httpfs",
    "LOAD '{canary}'",
    "SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')",
    # settings
    "SET enable_external_access = true",
    "RESET enable_external_access",
    "SET lock_configuration = false",
    "PRAGMA enable_profiling = 'json'",
    "SET VARIABLE x = 1",
    "CALL pragma_version()",
    "CHECKPOINT",
    "VACUUM",
    "DELETE FROM documents",
    "DROP TABLE documents",
]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> Path:
    """One migrated database with a row, copied per test (migrating costs ~0.3 s)."""
    path = tmp_path_factory.mktemp("template") / "template.duckdb"
    with closing(db.connect(path)) as con:
        con.execute("INSERT INTO documents VALUES ('c', 'd1', 'train', 'some text', 1, 's')")
    return path


@pytest.fixture
def world(tmp_path, monkeypatch, template_db):
    """The queried database, another database, a canary file and an empty $HOME."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    database, other = work / "cleann.duckdb", work / "other.duckdb"
    for path in (database, other):
        shutil.copyfile(template_db, path)
    canary = work / "canary.json"
    canary.write_text(f'{{"secret": "{SECRET}"}}\n')
    (work / f"{HIDDEN_NAME}.txt").write_text("x\n")
    values = {"target": work / "target.out", "other": other, "canary": canary, "folder": work}
    return {"db": database, "home": home, "work": work, **values}


def _snapshot(world) -> dict:
    return {"db": _sha(world["db"]), "other": _sha(world["other"]), "canary": _sha(world["canary"]),
            "work": _tree(world["work"]), "home": _tree(world["home"])}


def _assert_nothing_escaped(world, before: dict, output: str) -> None:
    assert SECRET not in output, "the canary's content was read"
    assert HIDDEN_NAME not in output, "a directory listing was read"
    assert "root:" not in output, "/etc/passwd was read"
    assert not world["target"].exists(), "a file was written"
    assert _snapshot(world) == before, "a file changed, appeared or disappeared"


def test_enough_attacks():
    assert len(ATTACKS) >= 25


@pytest.mark.parametrize("attack", ATTACKS)
def test_cli_refuses_attack(world, capsys, attack):
    sql = attack.format(**world)
    before = _snapshot(world)
    code = main(["sql", sql, "--db", str(world["db"]), "--wait", "0"])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.startswith("cleann: error: ") and err.count("\n") == 1, err
    _assert_nothing_escaped(world, before, out + err)


@pytest.mark.parametrize("attack", ATTACKS)
def test_sandboxed_connection_alone_contains_attack(world, attack):
    """Without the statement check: harmless statements may run, none reaches outside."""
    sql = attack.format(**world)
    before = _snapshot(world)
    shown = []
    with closing(db.connect(world["db"], read_only=True)) as con:
        try:
            for statement in duckdb.extract_statements(sql):
                shown.append(repr(con.execute(statement.query).fetchall()))
        except duckdb.Error as exc:
            shown.append(str(exc))
    _assert_nothing_escaped(world, before, "\n".join(shown))


def test_plain_reads_still_work(world, capsys):
    sql = ("SELECT corpus, count(*) AS n FROM documents GROUP BY 1; PRAGMA table_info('documents'); "
           "EXPLAIN SELECT 1; DESCRIBE documents; SELECT count(*) AS runs FROM runs")
    assert main(["sql", sql, "--db", str(world["db"]), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "c,1" in out and "doc_id" in out


def test_sandbox_settings_are_locked_on(world):
    with closing(db.connect(world["db"], read_only=True)) as con:
        settings = dict(con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('enable_external_access', 'lock_configuration', 'autoload_known_extensions')").fetchall())
    assert settings == {"enable_external_access": "false", "lock_configuration": "true",
                        "autoload_known_extensions": "false"}


def test_sandbox_message_says_why(world, capsys):
    code = main(["sql", f"SELECT * FROM read_text('{world['canary']}')", "--db", str(world["db"])])
    err = capsys.readouterr().err
    assert code == 2 and "cannot read or write files outside the database" in err


@pytest.mark.parametrize("argv,fragment", [
    (["--max-rows", "-1"], "--max-rows -1"),
    (["--wait", "-5"], "--wait -5"),
    (["--wait", "nan"], "--wait nan"),
])
def test_bad_options_are_one_line(world, capsys, argv, fragment):
    assert main(["sql", "SELECT 1", "--db", str(world["db"]), *argv]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1


def test_allowed_directory_is_the_only_way_out(world, tmp_path):
    """Exports get one folder: writes there work, everything else stays refused and locked."""
    out = tmp_path / "out"
    out.mkdir()
    sibling = tmp_path / "out-other"
    with closing(db.connect(world["db"], read_only=True, allowed_directories=[out])) as con:
        con.execute(f"COPY (SELECT * FROM documents) TO '{out / 'documents.parquet'}' (FORMAT parquet)")
        for sql in (f"COPY (SELECT 1 AS x) TO '{sibling}.csv'",
                    f"COPY (SELECT 1 AS x) TO '{out}/../escape.csv'",
                    f"SELECT * FROM read_text('{world['canary']}')",
                    "SET allowed_directories = ['/']",
                    "SET enable_external_access = true"):
            with pytest.raises(duckdb.Error):
                con.execute(sql)
    assert sorted(p.name for p in out.iterdir()) == ["documents.parquet"]
    assert not (tmp_path / "escape.csv").exists() and not sibling.with_suffix(".csv").exists()
