"""`cleann query` and `cleann sql` options: wrong values end in one line and exit code 2."""
from __future__ import annotations

from contextlib import closing

import pytest

from cleann.cli import main
from cleann.store import db


@pytest.fixture
def run_db(tmp_db):
    with closing(db.connect(tmp_db)) as con:
        con.execute("INSERT INTO runs (run_id, kind, corpus, status, started_at) VALUES "
                    "('r-old', 'sentiment', 'imdb:tiny:test', 'completed', TIMESTAMP '2026-01-01'), "
                    "('r-new', 'sentiment', 'imdb:tiny:test', 'completed', TIMESTAMP '2026-02-01')")
        con.execute("INSERT INTO samples (run_id, sample_id, status, error) VALUES "
                    "('r-old', 's1', 'failed', 'old failure'), ('r-new', 's2', 'failed', 'new failure')")
    return tmp_db


@pytest.mark.parametrize("argv,fragment", [
    (["query", "causal_tokens", "--param", "min_support=abc"], "min_support must be a whole number"),
    (["query", "causal_tokens", "--param", "top=nan"], "top must be a whole number"),
    (["query", "causal_tokens", "--param", "nosuch=1"], "has no such parameter"),
    (["query", "causal_tokens", "--param", "min_support"], "use KEY=VALUE"),
    (["query", "causal_tokens", "--param", "=3"], "use KEY=VALUE"),
    (["query", "causal_tokens", "--param", "top=3", "--param", "top=4"], "given twice"),
    (["query", "causal_tokens", "--run", "no-such-run"], "is not in the database"),
    (["query", "failures", "--param", "run=no-such-run"], "is not in the database"),
    (["query", "failures", "--run", "r-old", "--param", "run=r-new"], "disagree"),
    (["query", "runs", "--run", "r-old"], "is not about one run"),
    (["query", "no_such_query"], "does not exist"),
    (["query", "runs", "--wait", "-1"], "--wait -1"),
    (["sql", "SELECT 1", "--max-rows", "-1"], "--max-rows -1"),
])
def test_bad_query_options_are_one_line(run_db, capsys, argv, fragment):
    before = run_db.read_bytes()
    assert main([*argv, "--db", str(run_db)]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("cleann: error: ") and err.count("\n") == 1, err
    assert fragment in err, err
    assert run_db.read_bytes() == before


def test_param_run_selects_the_run_instead_of_being_overridden(run_db, capsys):
    assert main(["query", "failures", "--param", "run=r-old", "--db", str(run_db), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "old failure" in out and "new failure" not in out
    assert main(["query", "failures", "--db", str(run_db), "--format", "csv"]) == 0  # default: the latest run
    out = capsys.readouterr().out
    assert "new failure" in out and "old failure" not in out


def test_numeric_param_accepted(run_db, capsys):
    assert main(["query", "causal_tokens", "--run", "r-old", "--param", "min_support=2",
                 "--db", str(run_db), "--format", "csv"]) == 0
