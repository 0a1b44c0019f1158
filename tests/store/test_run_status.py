"""Run status you can trust: failed runs say why, empty runs are never `completed`."""
from __future__ import annotations

from contextlib import closing

import pandas as pd
import pytest

from cleann.pipeline.params import ExplainParams
from cleann.store.runs import (
    MAX_REASON_CHARS, failure_marks_run, finish_run, get_run, mark_run_failed, register_run,
)
from cleann.store.db import connect, insert_frame

PARAMS = ExplainParams(corpus_name="tiny")


@pytest.fixture
def run_db(tmp_db):
    with closing(connect(tmp_db)) as con:
        register_run(con, "r1", PARAMS, "/models/m", "0" * 64)
    return tmp_db


def _status(db, run_id="r1"):
    with closing(connect(db, read_only=True)) as con:
        run = get_run(con, run_id)
    return run["status"], run["error"], run["finished_at"]


def _add_samples(db, statuses):
    with closing(connect(db)) as con:
        insert_frame(con, "samples", pd.DataFrame(
            {"run_id": "r1", "sample_id": [f"s{i}" for i in range(len(statuses))], "status": statuses}))


def test_mark_run_failed_by_path_records_reason(run_db):
    assert mark_run_failed(run_db, "r1", "model load failed:\n  wrong architecture") is True
    status, error, finished = _status(run_db)
    assert (status, error) == ("failed", "model load failed: wrong architecture") and finished is not None


def test_mark_run_failed_with_open_connection_and_long_reason(run_db):
    with closing(connect(run_db)) as con:
        assert mark_run_failed(con, "r1", "x" * 5000) is True
    _, error, _ = _status(run_db)
    assert len(error) == MAX_REASON_CHARS and error.endswith("...")


def test_mark_run_failed_leaves_final_statuses_and_unknown_runs(run_db):
    _add_samples(run_db, ["ok"])
    with closing(connect(run_db)) as con:
        assert finish_run(con, "r1") == "completed"
        assert mark_run_failed(con, "r1", "late hook") is False
        assert mark_run_failed(con, "nope", "never registered") is False
        assert con.execute("SELECT count(*) FROM runs").fetchall()[0][0] == 1
    assert _status(run_db)[:2] == ("completed", None)


def test_empty_run_is_failed_not_completed(run_db):
    with closing(connect(run_db)) as con:
        assert finish_run(con, "r1") == "failed"
    status, error, _ = _status(run_db)
    assert status == "failed" and "no sample" in error


@pytest.mark.parametrize("statuses,incomplete,expected", [
    (["ok", "ok"], 0, "completed"),
    (["ok", "failed"], 0, "partial"),
    (["ok"], 1, "partial"),
    ([], 2, "failed"),
])
def test_finish_run_statuses(run_db, statuses, incomplete, expected):
    if statuses:
        _add_samples(run_db, statuses)
    with closing(connect(run_db)) as con:
        assert finish_run(con, "r1", incomplete=incomplete) == expected


def test_register_again_after_failure_is_running(run_db):
    mark_run_failed(run_db, "r1", "boom")
    with closing(connect(run_db)) as con:
        assert register_run(con, "r1", PARAMS, "/models/m", "0" * 64) is False
    assert _status(run_db) == ("running", None, None)


def test_failure_marks_run_keeps_the_original_error(run_db):
    with pytest.raises(ZeroDivisionError):
        with failure_marks_run(run_db, "r1"):
            1 / 0
    status, error, _ = _status(run_db)
    assert status == "failed" and error.startswith("ZeroDivisionError")


def test_failure_marks_run_leaves_success_alone(run_db):
    with failure_marks_run(run_db, "r1"):
        pass
    assert _status(run_db)[0] == "running"
