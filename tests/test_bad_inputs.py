"""One row per bad input: the CLI refuses it with one line, exit code 2, nothing written.

Each row gives the command line, the files it needs (made in the test's folder), the
expected exit code, a fragment of the expected message, and where the mistake must be
caught: ``pre`` = before Prefect starts (stderr is that one line and nothing else),
``flow`` = by the loader inside the ingest flow (progress lines may precede the error
line; the flow runs against the session's Prefect test server). In every row the
database is compared before and after (``db_fingerprint``): a prepared database stays
byte-for-byte equal in content, a missing one is not created.

Placeholders: ``{d}`` is the row's folder, ``{db}`` the database path.
"""
from __future__ import annotations

import io
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from bad_input_helpers import (assert_user_error, db_fingerprint, prefect_api_env,
                               run_cli)


def _zip(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return buf.getvalue()


def _parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf)
    return buf.getvalue()


FLAGS = "|".join(["0"] * 18 + ["1"])
U_ITEM = f"10|A (1990)|||u|{FLAGS}\n20|B (1991)|||u|{FLAGS}\n"
GOOD_CSV = "text,label\na good film,1\na dull film,0\n"
HUGE_HEADER = ",".join(f"column_{i}" for i in range(1_500_000)) + "\nx\n"  # ~20 MB


@dataclass
class Row:
    id: str
    argv: list[str]
    fragment: str
    files: dict[str, bytes | str | None] = field(default_factory=dict)  # None = folder
    stage: str = "pre"
    code: int = 2
    db: str = "existing"  # existing | missing
    env: dict[str, str] = field(default_factory=dict)
    not_created: str | None = None  # an output path that must not appear


def csv_row(id, content, fragment, *extra, stage="pre", **kw) -> Row:
    files = {"in.csv": content} if content is not None else {}
    return Row(id, ["ingest", "imdb", "--source", "csv", "--path", "{d}/in.csv", "--db", "{db}",
                    *extra], fragment, files, stage, **kw)


ROWS = [
    # --- ingest csv -----------------------------------------------------------------
    csv_row("csv-missing", None, "file not found"),
    Row("csv-is-directory", ["ingest", "imdb", "--source", "csv", "--path", "{d}/folder",
                             "--db", "{db}"], "is a directory, not a file", {"folder": None}),
    csv_row("csv-empty", "", "file is empty"),
    csv_row("csv-only-blank-lines", "\n\n  \n", "file is empty"),
    csv_row("csv-no-text-column", "review,label\nx,1\n", "missing column(s) ['text']"),
    csv_row("csv-no-label-column", "text,score\nx,1\n", "missing column(s) ['label']"),
    csv_row("csv-text-column-option-missing", GOOD_CSV, "missing column(s) ['review']",
            "--text-column", "review"),
    csv_row("csv-split-column-option-missing", GOOD_CSV, "missing column(s) ['fold']",
            "--split-column", "fold"),
    csv_row("csv-id-column-option-missing", GOOD_CSV, "missing column(s) ['id']",
            "--id-column", "id"),
    csv_row("csv-latin1-without-encoding", "text,label\ncaf\xe9 cr\xe8me,1\n".encode("latin-1"),
            "pass the file's encoding with --encoding"),
    csv_row("csv-unknown-encoding", GOOD_CSV, "unknown encoding 'klingon'", "--encoding", "klingon"),
    csv_row("csv-20mb-header-not-echoed", HUGE_HEADER, "missing column(s) ['text', 'label']"),
    csv_row("csv-is-parquet", _parquet(pd.DataFrame({"text": ["a"], "label": [1]})),
            "is a Parquet file, but --source csv was given"),
    csv_row("csv-empty-column-name-option", GOOD_CSV, "--text-column: empty column name",
            "--text-column", " "),
    csv_row("csv-empty-corpus-name", GOOD_CSV, "--corpus-name: empty name", "--corpus-name", ""),
    csv_row("csv-long-corpus-name", GOOD_CSV, "at most 100", "--corpus-name", "c" * 5000),
    csv_row("csv-only-unknown-labels", "text,label\nfine,7\nodd,meh\n",
            "no usable rows (2 label not a documented spelling)", stage="flow"),
    csv_row("csv-duplicate-id", "id,text,label\na,x,1\na,y,0\n", "duplicate id on lines [2, 3]",
            "--id-column", "id", stage="flow"),
    csv_row("csv-empty-id", "id,text,label\na,x,1\n,y,0\n", "line 3: id column 'id' is empty",
            "--id-column", "id", stage="flow"),
    csv_row("csv-split-value", "text,label,split\nx,1,train\ny,0,validation\n",
            "line 3: the split in column 'split' is not 'train' or 'test'", stage="flow"),
    csv_row("csv-all-texts-empty", 'text,label\n"",1\n" ",0\n', "no usable rows", stage="flow"),
    csv_row("csv-header-only", "text,label\n", "no data rows", stage="flow"),
    # --- ingest parquet --------------------------------------------------------------
    Row("parquet-given-a-csv", ["ingest", "imdb", "--source", "parquet", "--path", "{d}/in.csv",
                                "--db", "{db}"], "not a Parquet file (no PAR1 header)",
        {"in.csv": GOOD_CSV}),
    Row("parquet-corrupt", ["ingest", "imdb", "--source", "parquet", "--path", "{d}/in.parquet",
                            "--db", "{db}"], "not a readable Parquet file",
        {"in.parquet": b"PAR1" + b"\x00" * 64}),
    Row("parquet-float-texts", ["ingest", "imdb", "--source", "parquet", "--path",
                                "{d}/in.parquet", "--db", "{db}"],
        "text column 'text' holds double values, not texts",
        {"in.parquet": _parquet(pd.DataFrame({"text": [1.5, 2.5], "label": [1, 0]}))}),
    Row("parquet-list-texts", ["ingest", "imdb", "--source", "parquet", "--path",
                               "{d}/in.parquet", "--db", "{db}"], "holds list",
        {"in.parquet": _parquet(pd.DataFrame({"text": [["a", "b"], ["c"]], "label": [1, 0]}))}),
    Row("parquet-no-label", ["ingest", "imdb", "--source", "parquet", "--path",
                             "{d}/in.parquet", "--db", "{db}"], "missing column(s) ['label']",
        {"in.parquet": _parquet(pd.DataFrame({"text": ["a"], "y": [1]}))}),
    Row("parquet-with-encoding", ["ingest", "imdb", "--source", "parquet", "--path",
                                  "{d}/in.parquet", "--db", "{db}", "--encoding", "latin-1"],
        "--encoding: only for --source csv",
        {"in.parquet": _parquet(pd.DataFrame({"text": ["a"], "label": [1]}))}),
    # --- ingest options that do not apply, databases that cannot be written ----------
    Row("aclimdb-with-text-column", ["ingest", "imdb", "--source", "aclimdb", "--path", "{d}",
                                     "--db", "{db}", "--text-column", "t"],
        "only for --source csv or parquet"),
    Row("offline-with-path", ["ingest", "imdb", "--path", "{d}/x", "--db", "{db}"],
        "--path: not used with --source offline"),
    Row("offline-unknown-corpus", ["ingest", "imdb", "--corpus-name", "nope", "--db", "{db}"],
        "unknown offline corpus 'nope'"),
    Row("movielens-unknown-source", ["ingest", "movielens", "--source", "csv", "--path", "{d}/x",
                                     "--db", "{db}"], "unknown source 'csv'"),
    Row("ingest-unknown-source", ["ingest", "imdb", "--source", "excel", "--db", "{db}"],
        "invalid choice: 'excel'"),
    Row("db-is-directory", ["ingest", "imdb", "--source", "csv", "--path", "{d}/in.csv",
                            "--db", "{d}/dbdir"], "is a directory, not a file",
        {"in.csv": GOOD_CSV, "dbdir": None}),
    Row("db-folder-missing", ["ingest", "imdb", "--source", "csv", "--path", "{d}/in.csv",
                              "--db", "{d}/nowhere/x.duckdb"], "does not exist", {"in.csv": GOOD_CSV},
        not_created="{d}/nowhere"),
    Row("db-dev-full", ["ingest", "imdb", "--source", "csv", "--path", "{d}/in.csv",
                        "--db", "/dev/full"], "not a regular file", {"in.csv": GOOD_CSV}),
    Row("db-not-duckdb", ["ingest", "imdb", "--source", "csv", "--path", "{d}/in.csv",
                          "--db", "{d}/in.csv"], "not a DuckDB database file",
        {"in.csv": GOOD_CSV}),
    # --- ingest aclimdb / hf -----------------------------------------------------------
    Row("aclimdb-missing", ["ingest", "imdb", "--source", "aclimdb", "--path", "{d}/aclImdb",
                            "--db", "{db}"], "folder not found"),
    Row("aclimdb-zip", ["ingest", "imdb", "--source", "aclimdb", "--path", "{d}/aclImdb.zip",
                        "--db", "{db}"], "is an archive; extract it",
        {"aclImdb.zip": _zip({"aclImdb/train/pos/0_9.txt": "good"})}),
    Row("aclimdb-plain-file", ["ingest", "imdb", "--source", "aclimdb", "--path", "{d}/r.txt",
                               "--db", "{db}"], "not a folder", {"r.txt": "good"}),
    Row("aclimdb-wrong-layout", ["ingest", "imdb", "--source", "aclimdb", "--path", "{d}/acl",
                                 "--db", "{db}"], "no train|test/pos|neg folders",
        {"acl": None, "acl/reviews": None}),
    Row("aclimdb-no-reviews", ["ingest", "imdb", "--source", "aclimdb", "--path", "{d}/acl",
                               "--db", "{db}"], "no reviews found",
        {"acl": None, "acl/train": None, "acl/train/pos": None}, stage="flow"),
    Row("hf-hub-offline", ["ingest", "imdb", "--source", "hf", "--db", "{db}"],
        "HF_HUB_OFFLINE is set", env={"HF_HUB_OFFLINE": "1"}),
    Row("hf-local-path-missing", ["ingest", "imdb", "--source", "hf", "--path", "{d}/saved",
                                  "--db", "{db}"], "not found"),
    Row("hf-path-plain-file", ["ingest", "imdb", "--source", "hf", "--path", "{d}/x.txt",
                               "--db", "{db}"], "not a saved dataset folder or Parquet file",
        {"x.txt": "hello"}),
    # --- ingest movielens --------------------------------------------------------------
    Row("ml1m-zip-without-ratings", ["ingest", "movielens", "--source", "ml-1m", "--path",
                                     "{d}/ml-1m.zip", "--db", "{db}"],
        "no ratings.dat inside the zip", {"ml-1m.zip": _zip({"ml-1m/movies.dat": "1::A::x\n"})}),
    Row("ml1m-not-a-zip", ["ingest", "movielens", "--source", "ml-1m", "--path",
                           "{d}/ml-1m.zip", "--db", "{db}"], "not a zip file or folder",
        {"ml-1m.zip": "this is text"}),
    Row("ml100k-folder-without-item", ["ingest", "movielens", "--source", "ml-100k", "--path",
                                       "{d}/ml", "--db", "{db}"], "no u.item in this folder",
        {"ml": None, "ml/u.data": "1\t10\t5\t100\n"}),
    Row("ml100k-missing", ["ingest", "movielens", "--source", "ml-100k", "--path", "{d}/none.zip",
                           "--db", "{db}"], "not found"),
    Row("ml100k-rating-9", ["ingest", "movielens", "--source", "ml-100k", "--path", "{d}/ml",
                            "--db", "{db}"], "line 2: rating 9 is outside the MovieLens scale",
        {"ml": None, "ml/u.data": "1\t10\t5\t100\n2\t20\t9\t101\n", "ml/u.item": U_ITEM},
        stage="flow"),
    Row("ml100k-negative-user", ["ingest", "movielens", "--source", "ml-100k", "--path", "{d}/ml",
                                 "--db", "{db}"], "line 1: user_id -1 is negative",
        {"ml": None, "ml/u.data": "-1\t10\t5\t100\n2\t20\t4\t101\n", "ml/u.item": U_ITEM},
        stage="flow"),
    Row("ml100k-empty-ratings", ["ingest", "movielens", "--source", "ml-100k", "--path", "{d}/ml",
                                 "--db", "{db}"], "file is empty",
        {"ml": None, "ml/u.data": "", "ml/u.item": U_ITEM}, stage="flow"),
    # --- sql / query (read-only commands) -------------------------------------------
    Row("sql-no-database", ["sql", "SELECT 1", "--db", "{d}/none.duckdb"], "no database here",
        db="missing"),
    Row("sql-delete", ["sql", "DELETE FROM documents", "--db", "{db}"], "refused"),
    Row("query-unknown-name", ["query", "nope", "--db", "{db}"], "query 'nope' does not exist"),
    Row("query-no-run-yet", ["query", "failures", "--db", "{db}"],
        "query failures: no run in the database"),
    # --- report ----------------------------------------------------------------------
    Row("report-output-folder-missing", ["report", "r1", "-o", "{d}/nowhere/r.html", "--db", "{db}"],
        "does not exist", not_created="{d}/nowhere"),
    Row("report-output-is-directory", ["report", "r1", "-o", "{d}/out", "--db", "{db}"],
        "is a directory, not a file", {"out": None}),
    Row("report-output-dev-full", ["report", "r1", "-o", "/dev/full", "--db", "{db}"],
        "not a regular file"),
    Row("report-negative-samples", ["report", "r1", "--samples", "-5", "--db", "{db}"],
        "argument --samples"),
    Row("report-no-database", ["report", "r1", "-o", "{d}/r.html", "--db", "{d}/none.duckdb"],
        "no database here", db="missing", not_created="{d}/r.html"),
    Row("report-unknown-run", ["report", "r1", "-o", "{d}/r.html", "--db", "{db}"],
        "run 'r1' is not in the database", not_created="{d}/r.html"),
    # --- model eval ------------------------------------------------------------------
    Row("model-max-length-0", ["model", "eval", "sentiment", "--max-length", "0"],
        "argument --max-length"),
    Row("model-max-length-huge", ["model", "eval", "sentiment", "--max-length", "100000"],
        "--max-length 100000: must be 3..512"),
    Row("model-folder-missing", ["model", "eval", "sentiment", "--model", "{d}/m"], "not found"),
    Row("model-folder-empty", ["model", "eval", "sentiment", "--model", "{d}/m"],
        "not a checkpoint folder (no config.json)", {"m": None}),
    Row("model-unknown-corpus", ["model", "eval", "sentiment", "--corpus", "imdb"],
        "invalid choice: 'imdb'"),
    Row("model-hub-id-offline", ["model", "eval", "sentiment", "--model", "someone/model"],
        "HF_HUB_OFFLINE is set", env={"HF_HUB_OFFLINE": "1"}),
    Row("bert4rec-model-is-file", ["model", "eval", "bert4rec", "--model", "{d}/m.bin"],
        "not a folder", {"m.bin": "x"}),
    Row("bert4rec-ml1m-missing", ["model", "eval", "bert4rec", "--ml1m", "{d}/ml-1m.zip"],
        "not found"),
    Row("bert4rec-seed-text", ["model", "eval", "bert4rec", "--seed", "abc"], "invalid int value"),
    Row("model-json-flag-removed", ["model", "eval", "sentiment", "--json"], "unrecognized arguments: --json"),
    Row("model-format-unknown", ["model", "eval", "bert4rec", "--format", "yaml"], "invalid choice: 'yaml'"),
    # --- train -----------------------------------------------------------------------
    Row("train-zero-minutes", ["train", "sentiment", "--max-minutes", "0"], "argument --max-minutes"),
    Row("train-nan-minutes", ["train", "bert4rec", "--max-minutes", "nan"], "not a finite number"),
    Row("train-zero-epochs", ["train", "bert4rec", "--epochs", "0"], "argument --epochs"),
    Row("train-json-flag-removed", ["train", "sentiment", "--json"], "unrecognized arguments: --json"),
    Row("train-ml1m-missing", ["train", "bert4rec", "--ml1m", "{d}/ml-1m.zip"], "not found"),
    Row("train-ml1m-wrong-zip", ["train", "bert4rec", "--ml1m", "{d}/ml-1m.zip"],
        "no movies.dat inside the zip", {"ml-1m.zip": _zip({"ml-1m/ratings.dat": "1::1::5::1\n"})}),
]


@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> Path:
    """A small database with one corpus (copied per row, so rows cannot affect each other)."""
    from cleann.store.db import connect, insert_frame

    path = tmp_path_factory.mktemp("db") / "template.duckdb"
    con = connect(path)
    insert_frame(con, "documents", pd.DataFrame({
        "corpus": "tiny", "doc_id": ["d0", "d1"], "split": "test", "text": ["good", "bad"],
        "label": [1, 0], "source": "test"}))
    con.close()
    return path


def _materialise(row: Row, folder: Path, template: Path) -> tuple[list[str], Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in row.files.items():
        target = folder / name
        if content is None:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            target.write_text(content, encoding="utf-8")
        else:
            target.write_bytes(content)
    db = folder / "cleann.duckdb"
    if row.db == "existing":
        shutil.copy(template, db)
    fill = {"{d}": str(folder), "{db}": str(db)}
    argv = []
    for arg in row.argv:
        for key, value in fill.items():
            arg = arg.replace(key, value)
        argv.append(arg)
    return argv, db


def test_table_is_big_and_ids_unique():
    assert len(ROWS) >= 45
    assert len({r.id for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", [pytest.param(r, id=r.id, marks=[pytest.mark.flow] if r.stage == "flow" else [])
                                 for r in ROWS])
def test_bad_input_is_refused(row: Row, tmp_path, template_db, request, monkeypatch):
    if row.stage == "flow":
        request.getfixturevalue("prefect_harness")
    argv, db = _materialise(row, tmp_path / "case", template_db)
    before = db_fingerprint(db)
    env = {"CLEANN_HOME": str(tmp_path / "home"), "CLEANN_DB": str(db), **row.env}
    result = run_cli(argv, env, cwd=tmp_path / "case")
    assert_user_error(result, row.fragment, row.code, only_line=row.stage == "pre")
    assert db_fingerprint(db) == before, "the database changed"
    if row.db == "missing":
        assert not db.exists()
    if row.not_created:
        assert not Path(row.not_created.replace("{d}", str(tmp_path / "case"))).exists()


def test_long_header_is_not_echoed_in_the_message(tmp_path, template_db):
    row = next(r for r in ROWS if r.id == "csv-20mb-header-not-echoed")
    argv, _db = _materialise(row, tmp_path / "case", template_db)
    code, _out, err = run_cli(argv, {"CLEANN_HOME": str(tmp_path / "home")})
    assert code == 2 and len(err) < 600 and "column_0" not in err and "1500000 column(s)" in err


@pytest.mark.parametrize("row_id", ["csv-no-text-column", "report-output-is-directory"])
def test_terminal_output_pre_prefect(row_id, tmp_path, template_db):
    """What a user sees (a real process): the one line, no traceback, no Prefect start."""
    row = next(r for r in ROWS if r.id == row_id)
    argv, db = _materialise(row, tmp_path / "case", template_db)
    before = db_fingerprint(db)
    result = run_cli(argv, {"CLEANN_HOME": str(tmp_path / "home")}, subprocess=True)
    assert_user_error(result, row.fragment, row.code, only_line=True)
    assert db_fingerprint(db) == before


@pytest.mark.flow
def test_terminal_output_flow_error(tmp_path, template_db, prefect_harness):
    """An error raised inside the flow: Prefect's console traceback is gone, the CLI line
    is last (the traceback stays in the Prefect API log)."""
    row = next(r for r in ROWS if r.id == "csv-duplicate-id")
    argv, db = _materialise(row, tmp_path / "case", template_db)
    before = db_fingerprint(db)
    result = run_cli(argv, {"CLEANN_HOME": str(tmp_path / "home"), **prefect_api_env()},
                     subprocess=True)
    assert_user_error(result, row.fragment, row.code, only_line=False)
    assert "ERROR" not in result[2] and "Traceback" not in result[2]
    assert db_fingerprint(db) == before
    # ... while the Prefect log (API) still holds the failure with its traceback
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterLevel

    async def error_logs() -> list[str]:
        async with get_client() as client:
            logs = await client.read_logs(log_filter=LogFilter(level=LogFilterLevel(ge_=40)),
                                          limit=200, offset=0)
            return [log.message for log in logs]

    messages = asyncio.run(error_logs())
    assert any("duplicate id on lines" in m and "Traceback" in m for m in messages), messages[-5:]


# --- the CLI's error plumbing ------------------------------------------------------------
def test_user_error_is_unwrapped_only_from_prefect_wrappers():
    from cleann.cli import user_error
    from cleann.errors import BadInputError

    original = BadInputError("bad.csv: line 3: label '7'")

    class FlowFailed(Exception):
        pass

    FlowFailed.__module__ = "prefect.exceptions"
    try:
        try:
            raise original
        except BadInputError as exc:
            raise FlowFailed("flow run failed") from exc
    except FlowFailed as wrapped:
        assert user_error(wrapped) is original
    assert user_error(ExceptionGroup("tasks", [ValueError("x"), original])) is original
    bug = RuntimeError("a bug while handling")
    bug.__cause__ = original
    assert user_error(bug) is None  # not Prefect's wrapper: a bug keeps its traceback
    assert user_error(ValueError("plain")) is None


def test_console_filter_drops_only_run_errors(tmp_path, monkeypatch):
    import logging

    import yaml

    from cleann.cli._prefect_logging import HideRunErrors, install_logging_settings

    flt = HideRunErrors()

    def record(name, level):
        return logging.LogRecord(name, level, __file__, 1, "m", None, None)

    assert not flt.filter(record("prefect.flow_runs", logging.ERROR))
    assert not flt.filter(record("prefect.task_runs", logging.CRITICAL))
    assert flt.filter(record("prefect.flow_runs", logging.WARNING))
    assert flt.filter(record("prefect.server", logging.ERROR))
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "ph"))
    monkeypatch.delenv("PREFECT_LOGGING_SETTINGS_PATH", raising=False)
    path = install_logging_settings()
    config = yaml.safe_load(path.read_text())
    assert "cleann_hide_run_errors" in config["handlers"]["console"]["filters"]
    assert config["handlers"]["api"].get("filters") is None  # the Prefect log keeps everything
    monkeypatch.setenv("PREFECT_LOGGING_SETTINGS_PATH", str(tmp_path / "mine.yml"))
    assert install_logging_settings() is None  # the user's own settings win
