"""A run killed with SIGKILL mid-run and re-run ends with exactly the rows of an uninterrupted run."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

from cleann.pipeline import explain
from cleann.pipeline.params import ExecParams, ExplainParams
from cleann.store.db import connect

from pipeline_helpers import NEGATIVE, POSITIVE, TEXTS, make_text_db, table_rows

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
    # stored as running; its owner process is gone, so readers see it abandoned (issue 22)
    assert run_status == "abandoned" and 2 <= n_before < len(TEXTS)

    resumed = explain.run_local(PARAMS, ExecParams(batch_size=3), tiny_text_model, killed_db)
    assert resumed.done == len(TEXTS) and resumed.status == "completed"
    assert resumed.processed_now <= len(TEXTS) - n_before  # finished samples were not redone

    clean_db = make_text_db(tmp_path / "clean.duckdb")
    clean = explain.run_local(PARAMS, ExecParams(batch_size=1), tiny_text_model, clean_db)
    assert clean.run_id == resumed.run_id
    assert table_rows(killed_db, resumed.run_id) == table_rows(clean_db, clean.run_id)
    staging = tmp_path / "killed.duckdb.staging" / resumed.run_id
    assert not any(p.is_file() and p.parent.name != "owners" for p in staging.rglob("*")), \
        "staged files are removed once loaded"



KILL_POINTS = 20
KILL_SEED = 20261130
# 64 short reviews built from the tiny model's words (deterministic; more samples than 20
# kills can finish, so every invocation is killed, none completes the run)
MANY_TEXTS = [f"{a} and {b} , the {c} film" for a in POSITIVE + NEGATIVE for b in POSITIVE + NEGATIVE
              for c in ("long", "short")][::2]


def _explain_cmd(db, model) -> list[str]:
    return [sys.executable, "-m", "cleann", "explain", "imdb", "--corpus-name", "tiny", "--db", str(db),
            "--model", str(model), "--batch-size", "1", "--num-samples", "768", "--no-prefect"]


def _staged_since(root, since: float) -> bool:
    """Whether an input batch file was written at or after ``since`` (by this invocation)."""
    for path in root.rglob("inputs/*.parquet"):
        try:
            if path.stat().st_mtime >= since - 0.01:
                return True
        except FileNotFoundError:  # loaded and removed meanwhile
            continue
    return False


def _wait_for(predicate, timeout: float = 240.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_sigkill_at_20_random_points_then_resume_equals_uninterrupted(tmp_path, tiny_text_model):
    """Kill `explain` 20 times at seeded random points, resume once, compare every row with
    an uninterrupted run. A kill point is a phase the process is seen to reach, then a
    random delay: 'start' (0-2 s after spawn: imports), 'planned' (its batch inputs are
    staged: planning, loading leftovers, the first batch), 'loaded1' / 'loaded2' (after
    1 or 2 'loaded batch' lines: between and inside later batches and loads). Phases are
    observed, not timed, so the points stay spread on a loaded machine."""
    assert len(set(MANY_TEXTS)) == 64
    db = make_text_db(tmp_path / "killed.duckdb", MANY_TEXTS)
    staging_root = tmp_path / "killed.duckdb.staging"
    env = {**os.environ, "CLEANN_HOME": str(tmp_path / "home"), "CLEANN_WORKER_THREADS": "1"}
    rng = random.Random(KILL_SEED)
    log = []
    while len(log) < KILL_POINTS:
        phase = rng.choices(["start", "planned", "loaded1", "loaded2"], weights=[1, 3, 3, 2])[0]
        delay = rng.uniform(0.0, 2.0) if phase == "start" else rng.uniform(0.0, 0.3)
        spawned = time.time()
        proc = subprocess.Popen(_explain_cmd(db, tiny_text_model), stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, env=env)
        try:
            if phase == "planned":
                assert _wait_for(lambda: proc.poll() is not None or _staged_since(staging_root, spawned))
            elif phase.startswith("loaded"):
                seen = 0
                while seen < int(phase[-1]):
                    line = proc.stdout.readline()
                    if not line:
                        break
                    seen += line.startswith("loaded batch")
            time.sleep(delay)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=300)
            proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL, (
            f"invocation {len(log) + 1} ({phase}) ended with rc {proc.returncode} before its "
            f"kill point; kills so far: {log}")
        log.append((phase, round(delay, 2)))

    con = connect(db, read_only=True)
    n_before = con.execute("SELECT count(*) FROM samples").fetchall()[0][0]
    con.close()
    print(f"kill points (phase, delay s): {log}; samples stored before the resume: {n_before}")
    assert n_before < len(MANY_TEXTS), "the killed invocations finished the run"

    resumed = explain.run_local(PARAMS, ExecParams(batch_size=8), tiny_text_model, db)
    assert (resumed.status, resumed.done) == ("completed", len(MANY_TEXTS))

    clean_db = make_text_db(tmp_path / "clean.duckdb", MANY_TEXTS)
    clean = explain.run_local(PARAMS, ExecParams(batch_size=8), tiny_text_model, clean_db)
    assert clean.run_id == resumed.run_id
    assert table_rows(db, resumed.run_id) == table_rows(clean_db, clean.run_id), log
    staging = tmp_path / "killed.duckdb.staging" / resumed.run_id
    left = [p for p in staging.rglob("*") if p.is_file() and p.parent.name != "owners"]
    assert not left, f"staged files left after the resumed run: {left[:5]}"
