"""Readers wait for the writer: `cleann sql` and `cleann query` succeed once a writer that
holds the database file lets go, and give up with one line after `--wait` seconds."""
from __future__ import annotations

import subprocess
import sys
import time
from contextlib import closing

import pytest

from cleann.cli import main
from cleann.store import db

HOLD_S = 3.0
HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])          # a writer: holds the file lock while open
con.execute("BEGIN TRANSACTION")
con.execute("INSERT INTO documents VALUES ('c', 'late', 'train', 'written by the holder', 1, 's')")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.execute("COMMIT")
con.close()
"""


@pytest.fixture
def filled_db(tmp_db):
    with closing(db.connect(tmp_db)) as con:
        con.execute("INSERT INTO documents VALUES ('c', 'd1', 'train', 't', 1, 's')")
    return tmp_db


def _hold(path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_sql_waits_for_the_writer_and_sees_its_commit(filled_db, capsys):
    holder = _hold(filled_db, HOLD_S)
    started = time.monotonic()
    try:
        code = main(["sql", "SELECT count(*) AS n FROM documents", "--db", str(filled_db),
                     "--format", "csv", "--wait", "60"])
    finally:
        holder.wait(timeout=60)
    waited = time.monotonic() - started
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.split() == ["n", "2"]  # the holder's row, committed before it let go
    assert waited >= HOLD_S * 0.5, f"returned after {waited:.1f} s: it did not wait for the lock"


def test_sql_gives_up_after_wait_with_one_line(filled_db, capsys):
    holder = _hold(filled_db, HOLD_S)
    started = time.monotonic()
    try:
        code = main(["sql", "SELECT 1", "--db", str(filled_db), "--wait", "0.5"])
        waited = time.monotonic() - started
    finally:
        holder.wait(timeout=60)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "another process is writing it" in err and "--wait" in err
    assert 0.4 <= waited < HOLD_S


def test_query_waits_for_the_writer(filled_db, capsys):
    holder = _hold(filled_db, HOLD_S)
    started = time.monotonic()
    try:
        code = main(["query", "runs", "--db", str(filled_db), "--format", "csv"])
    finally:
        holder.wait(timeout=60)
    waited = time.monotonic() - started
    out, err = capsys.readouterr()
    assert code == 0, err
    assert waited >= HOLD_S * 0.5, f"returned after {waited:.1f} s: it did not wait for the lock"
