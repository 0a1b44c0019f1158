"""A run killed with SIGKILL mid-run and re-run ends with exactly the rows of an uninterrupted run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from cleann.pipeline import driver
from cleann.pipeline.params import ExecParams, ExplainParams
from cleann.store.db import connect

from pipeline_helpers import TEXTS, make_text_db, table_rows

PARAMS = ExplainParams(corpus_name="tiny", num_samples=768)


def test_sigkill_then_resume_equals_uninterrupted(tmp_path, tiny_text_model):
    killed_db = make_text_db(tmp_path / "killed.duckdb")
    cmd = [sys.executable, "-m", "cleann", "explain", "imdb", "--corpus-name", "tiny", "--db", str(killed_db),
           "--model", str(tiny_text_model), "--batch-size", "1", "--num-samples", "768", "--no-prefect"]
    env = {**os.environ, "CLEANN_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    loaded = 0
    try:
        for line in proc.stdout:
            loaded += line.startswith("loaded batch")
            if loaded == 2:
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"

    con = connect(killed_db, read_only=True)
    (run_status, n_before), = con.execute(
        "SELECT r.status, (SELECT count(*) FROM samples) FROM runs r").fetchall()
    con.close()
    assert run_status == "running" and 2 <= n_before < len(TEXTS)

    resumed = driver.run_local(PARAMS, ExecParams(batch_size=3), tiny_text_model, killed_db)
    assert resumed.done == len(TEXTS) and resumed.status == "completed"
    assert resumed.processed_now <= len(TEXTS) - n_before  # finished samples were not redone

    clean_db = make_text_db(tmp_path / "clean.duckdb")
    clean = driver.run_local(PARAMS, ExecParams(batch_size=1), tiny_text_model, clean_db)
    assert clean.run_id == resumed.run_id
    assert table_rows(killed_db, resumed.run_id) == table_rows(clean_db, clean.run_id)
    staging = tmp_path / "killed.duckdb.staging" / resumed.run_id
    assert not any(p.is_file() for p in staging.rglob("*")), "staged files are removed once loaded"

