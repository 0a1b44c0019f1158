"""Issue 12 items 9 and 10: a second invocation of a run never deletes the first one's
staged inputs; a missing or forbidden file fails its sample instead of being retried."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import socket
import textwrap

import pandas as pd
import pytest

from cleann.pipeline import batch, explain
from cleann.pipeline.params import ExecParams, ExplainParams
from cleann.store.runs import Staging, _process_start
from cleann.store.db import connect

from pipeline_helpers import TEXTS, make_text_db

PARAMS = ExplainParams(corpus_name="tiny", num_samples=768)


def _owner(staging: Staging, pid: int) -> None:
    path = f"{staging.base}/owners/otherhost-test-{pid}.json"
    import socket
    info = {"host": socket.gethostname(), "pid": pid, "pid_start": _process_start(pid), "written": 0}
    staging._atomic_write(path, json.dumps(info).encode())


def test_debris_is_kept_while_another_invocation_lives_and_cleared_after(tmp_path):
    staging = Staging(str(tmp_path / "st"), "run1")
    staging.write_input("bA", pd.DataFrame({"sample_id": ["s1"]}))
    staging._atomic_write(f"{staging.out_dir('bA')}/samples.parquet", b"half")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        _owner(staging, sleeper.pid)
        assert staging.clear_unfinished() == 0
        assert staging.fs.exists(staging.input_path("bA"))
        assert staging.fs.exists(f"{staging.out_dir('bA')}/samples.parquet")
    finally:
        sleeper.kill()
        sleeper.wait()
    assert staging.clear_unfinished() == 2  # the owner is dead: its debris goes
    assert not staging.fs.exists(staging.input_path("bA"))
    owners = sorted(p.rsplit("/", 1)[-1] for p in staging.fs.glob(f"{staging.base}/owners/*"))
    assert owners == [f"{socket.gethostname()}-{os.getpid()}.json"]  # the stale owner file is gone too


def test_reused_pid_is_not_mistaken_for_the_owner(tmp_path):
    staging = Staging(str(tmp_path / "st"), "run1")
    staging.write_input("bA", pd.DataFrame({"sample_id": ["s1"]}))
    path = f"{staging.base}/owners/x.json"
    info = {"host": socket.gethostname(), "pid": os.getppid(), "pid_start": "1", "written": 0}
    staging._atomic_write(path, json.dumps(info).encode())  # live pid, different start time
    assert staging.clear_unfinished() == 1


def test_second_invocation_keeps_the_first_ones_inputs(tmp_path, tiny_text_model):
    """Invocation A (another process) plans with batch size 1 and waits; invocation B
    plans the same run with batch size 5 (other batch ids); A's inputs must survive B."""
    db = make_text_db(tmp_path / "t.duckdb")
    script = textwrap.dedent(f"""
        import sys, time
        from cleann.pipeline import explain
        from cleann.pipeline.params import ExecParams, ExplainParams
        plan = explain.plan_run(ExplainParams(corpus_name="tiny", num_samples=768),
                               ExecParams(batch_size=1), {str(tiny_text_model)!r}, {str(db)!r})
        print(" ".join(plan.batch_ids), flush=True)
        time.sleep(300)
    """)
    env = {**os.environ, "CLEANN_HOME": str(tmp_path / "home")}
    first = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        batch_ids = first.stdout.readline().split()
        assert len(batch_ids) == len(TEXTS)
        second = explain.plan_run(PARAMS, ExecParams(batch_size=5), tiny_text_model, db)
        assert not set(second.batch_ids) & set(batch_ids)
        missing = [b for b in batch_ids if not second.staging.fs.exists(second.staging.input_path(b))]
        assert not missing, f"the second invocation deleted {len(missing)} inputs of the first"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
        first.stdout.close()
    third = explain.plan_run(PARAMS, ExecParams(batch_size=5), tiny_text_model, db)  # A is dead now
    left = [b for b in batch_ids if third.staging.fs.exists(third.staging.input_path(b))]
    assert not left, "a dead invocation's inputs are cleared"


class _Flaky:
    """The real backend, but inference of one text raises ``exc``."""

    def __init__(self, backend, poison: str, exc: BaseException):
        self.backend, self.poison, self.exc = backend, poison, exc

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def infer(self, inputs, batch_size, max_length):
        if self.poison in inputs:
            raise self.exc
        return self.backend.infer(inputs, batch_size, max_length)


@pytest.mark.parametrize("exc", [FileNotFoundError(errno.ENOENT, "No such file", "/gone/vocab.txt"),
                                 PermissionError(errno.EACCES, "Permission denied", "/root/x"),
                                 IsADirectoryError(errno.EISDIR, "Is a directory", "/tmp")])
def test_missing_or_forbidden_file_fails_the_sample_not_the_batch(tmp_path, tiny_text_model, exc):
    from cleann.pipeline.batch import get_backend

    db = make_text_db(tmp_path / "t.duckdb")
    plan = explain.plan_run(PARAMS, ExecParams(batch_size=len(TEXTS)), tiny_text_model, db)
    backend = _Flaky(get_backend("imdb", str(tiny_text_model)), TEXTS[3], exc)
    batch.process_batch(plan.staging, plan.batch_ids[0], PARAMS, str(tiny_text_model), backend=backend)
    samples = plan.staging.read_table(plan.batch_ids[0], "samples").to_pandas()
    failed = samples[samples["status"] == "failed"]
    assert len(failed) == 1 and type(exc).__name__ in failed["error"].iloc[0]
    assert (samples["status"] == "ok").sum() == len(TEXTS) - 1
    assert not batch.is_transient(exc)


def test_other_os_errors_stay_transient(tmp_path, tiny_text_model):
    from cleann.pipeline.batch import get_backend

    db = make_text_db(tmp_path / "t.duckdb")
    plan = explain.plan_run(PARAMS, ExecParams(batch_size=len(TEXTS)), tiny_text_model, db)
    eio = OSError(errno.EIO, "Input/output error")
    backend = _Flaky(get_backend("imdb", str(tiny_text_model)), TEXTS[3], eio)
    with pytest.raises(OSError, match="Input/output error"):
        batch.process_batch(plan.staging, plan.batch_ids[0], PARAMS, str(tiny_text_model), backend=backend)
    assert batch.is_transient(eio) and batch.is_transient(TimeoutError())
    assert plan.staging.ready_batches() == []  # nothing staged: the whole batch is retried
    con = connect(db, read_only=True)
    assert con.execute("SELECT count(*) FROM samples").fetchall() == [(0,)]
    con.close()
