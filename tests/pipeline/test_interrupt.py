"""Issue 22: exit codes that say how a run ended, Ctrl-C that stops everything, dead owners.

- Exit codes (cleann/cli/_exit.py): 0 completed, 1 failed, 2 user mistake, 3 partial,
  130 interrupted; for explain, retry and evaluate, through the real CLI with the tiny
  model. A sample fails for real (an empty review), a run fails for real (a checkpoint
  whose weights file is garbage).
- Ctrl-C (SIGINT to the process group, as a terminal sends it) of a running `cleann
  explain`, with Prefect (its own temporary server) and without: exit 130 within 2 s, one
  line on stderr, no process of the command left, the run marked ``interrupted``, and
  the same command run again ends with exactly a clean run's rows.
- `cleann sql` on a runaway cross join: Ctrl-C and --timeout stop it within 2 s.
- A run whose owner process is gone reads as ``abandoned``; a re-run takes it over.
Measured latencies are printed (pytest -s).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from bad_input_helpers import run_cli
from pipeline_helpers import TEXTS, make_text_db, table_rows

from cleann.cli import _exit
from cleann.pipeline import explain
from cleann.pipeline.params import ExecParams, ExplainParams
from cleann.store.db import connect

PARAMS = ExplainParams(corpus_name="tiny", num_samples=768)
RUNAWAY = "SELECT count(*) FROM range(100000000) a, range(100000000) b"
STOP_LIMIT_S = 2.0


def _explain_argv(db, model, *extra) -> list[str]:
    return ["explain", "imdb", "--corpus-name", "tiny", "--db", str(db), "--model", str(model),
            "--num-samples", "768", *extra]


def _run_row(db, run_id=None) -> dict:
    with closing(connect(db, read_only=True)) as con:
        sql = "SELECT * FROM runs" + (" WHERE run_id = ?" if run_id else "")
        cur = con.execute(sql, [run_id] if run_id else [])
        rows = cur.fetchall()
        assert len(rows) == 1, rows
        return dict(zip([d[0] for d in cur.description], rows[0]))


# --- exit codes -------------------------------------------------------------------------

def test_exit_code_table_is_one_definition():
    assert {s: _exit.code_for_status(s) for s in ("completed", "failed", "partial", "interrupted")} == \
        {"completed": 0, "failed": 1, "partial": 3, "interrupted": 130}
    assert _exit.code_for_status("something new") == 1  # never 0 for a status we do not know
    assert _exit.worst([0, 3, 0]) == 3 and _exit.worst([3, 1]) == 1 and _exit.worst([1, 130]) == 130
    assert _exit.worst([]) == 0
    assert _exit.evaluate_code({"explain": {"status": "completed"}, "failed_batches": 2}) == 3
    assert _exit.evaluate_code({"explain": {"status": "failed"}, "failed_batches": 0}) == 1


@pytest.mark.parametrize("command", ["explain", "retry", "evaluate", "sql", "query"])
def test_help_ends_with_the_exit_codes(command):
    code, out, _ = run_cli([command, "--help"])
    assert code == 0
    table = out[out.index("exit codes:"):]
    assert "130" in table and "  2 " in table and ("  3 " in table) == (command not in ("sql", "query"))


def test_exit_code_per_run_status(tmp_path, tiny_text_model):
    """completed 0; an empty review fails its sample: partial 3 (explain, retry, evaluate);
    a user mistake 2, nothing started."""
    db = make_text_db(tmp_path / "codes.duckdb", ["a good movie", "an awful film", "   "])
    home = {"CLEANN_HOME": str(tmp_path / "home")}

    code, out, err = run_cli([*_explain_argv(db, tiny_text_model, "--limit", "2", "--no-prefect")], home)
    assert (code, _run_row(db)["status"]) == (0, "completed"), err
    code, out, err = run_cli([*_explain_argv(db, tiny_text_model, "--limit", "3", "--no-prefect")], home)
    run = _run_row(db)
    assert (code, run["status"]) == (3, "partial"), err
    assert "empty text" in run_cli(["sql", "SELECT error FROM samples WHERE status = 'failed'", "--db", db])[1]

    code, out, err = run_cli(["retry", run["run_id"], "--db", db, "--no-prefect", "--format", "json"], home)
    assert code == 3 and json.loads(out)["status"] == "partial", err  # the empty review fails again

    code, out, err = run_cli(["evaluate", "imdb", "--corpus-name", "tiny", "--db", db, "--model", tiny_text_model,
                              "--num-samples", "768", "--limit", "3", "--explainers", "attention", "--no-prefect",
                              "--format", "json"], home)
    assert code == 3, err  # the evaluation of a partial run

    before = _run_row(db)
    code, out, err = run_cli([*_explain_argv(db, tiny_text_model, "--limit", "0", "--no-prefect")], home)
    assert code == 2 and err.count("\n") == 1 and err.startswith("cleann: error:"), err
    assert _run_row(db) == before


@pytest.mark.flow
def test_a_failed_run_exits_1(prefect_harness, tmp_path, tiny_text_model):
    """A checkpoint whose weights file is garbage: every batch fails, the run is failed,
    the summary is printed, exit 1 (it was 0)."""
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_text_model, broken)
    (broken / "model.safetensors").write_bytes(os.urandom(4096))
    db = make_text_db(tmp_path / "failed.duckdb")
    code, out, err = run_cli([*_explain_argv(db, broken, "--limit", "2")], {"CLEANN_HOME": str(tmp_path / "home")})
    assert code == 1, err
    assert _run_row(db)["status"] == "failed" and ": failed" in out


def test_a_failed_run_exits_1_without_prefect_too(tmp_path, tiny_text_model):
    """The same garbage weights with --no-prefect: the batch fails as in the flow (counted,
    left for the next run), the run is failed, exit 1, one line on stderr and no traceback."""
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_text_model, broken)
    (broken / "model.safetensors").write_bytes(os.urandom(4096))
    db = make_text_db(tmp_path / "failed-local.duckdb")
    code, out, err = run_cli([*_explain_argv(db, broken, "--limit", "2", "--no-prefect")],
                             {"CLEANN_HOME": str(tmp_path / "home")})
    assert code == 1, err
    assert _run_row(db)["status"] == "failed" and ": failed" in out
    assert "Traceback" not in err and err.count("\n") == 1 and "left for the next run" in err


# --- Ctrl-C of a running explain ----------------------------------------------------------

def _proc_stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    stat = _proc_stat(pid)
    return stat is not None and stat[0] != "Z"


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (stat := _proc_stat(int(name))) is not None:
            children.setdefault(int(stat[1]), []).append(int(name))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            found += [child]
            stack.append(child)
    return found


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and (stat := _proc_stat(int(name))) is not None and int(stat[2]) == pgid \
                and stat[0] != "Z":
            found.append(int(name))
    return found


class _Reader(threading.Thread):
    """Collects a pipe's lines as they come (so a snapshot tells what came before the signal)."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream, self.lines = stream, []

    def run(self) -> None:
        for line in self.stream:
            self.lines.append(line)


def _interrupt_explain(db: Path, model: Path, env: dict, extra: list[str], loaded: int = 2) -> dict:
    """Start `cleann explain` in its own session, wait until ``loaded`` batches are in the
    database (their staged inputs are removed once loaded), SIGINT the process group, and
    report what happened."""
    cmd = [sys.executable, "-m", "cleann", *_explain_argv(db, model, "--batch-size", "1", *extra)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    out, err = _Reader(proc.stdout), _Reader(proc.stderr)
    out.start()
    err.start()
    staging = Path(f"{db}.staging")
    try:
        most = 0
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            staged = len(list(staging.glob("*/inputs/*.parquet")))
            most = max(most, staged)
            if most and most - staged >= loaded:
                break
            time.sleep(0.02)
        assert proc.poll() is None, f"explain ended ({proc.returncode}) before it was interrupted: {err.lines}"
        family = _descendants(proc.pid)
        err_before = len(err.lines)
        sent = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
        latency = time.monotonic() - sent
        out.join(5)
        err.join(5)
        time.sleep(0.2)  # what the command killed is reaped by init meanwhile
        return {"rc": proc.returncode, "latency": latency, "stderr_after": err.lines[err_before:],
                "stderr": err.lines, "family": family, "left": [p for p in family if _alive(p)],
                "group_left": _group_members(proc.pid)}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="process checks read /proc (Linux)")
@pytest.mark.parametrize("mode", ["no-prefect", "prefect"])
def test_ctrl_c_stops_explain_and_the_same_command_resumes(tmp_path, tiny_text_model, mode):
    db = make_text_db(tmp_path / "ctrl-c.duckdb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k != "CLEANN_OWNER"}
    env.update(CLEANN_HOME=str(tmp_path / "home"), CLEANN_WORKER_THREADS="1")
    extra = ["--no-prefect"] if mode == "no-prefect" else []
    got = _interrupt_explain(db, tiny_text_model, env, extra)
    print(f"{mode}: exit {got['rc']} {got['latency']:.3f} s after SIGINT; processes of the command: "
          f"{len(got['family'])}")
    assert got["rc"] == 130, got["stderr"][-20:]
    assert got["latency"] < STOP_LIMIT_S
    assert [line.rstrip("\n") for line in got["stderr_after"]] == ["cleann: interrupted"], got["stderr_after"]
    assert not any("Traceback" in line for line in got["stderr"])
    assert got["left"] == [] and got["group_left"] == []
    if mode == "prefect":
        assert len(got["family"]) >= 2  # its temporary Prefect server and the reaper, both gone now

    run = _run_row(db)
    assert run["status"] == "interrupted" and "Ctrl-C" in run["error"]
    with closing(connect(db, read_only=True)) as con:
        n_before = con.execute("SELECT count(*) FROM samples").fetchall()[0][0]
    assert 2 <= n_before < len(TEXTS)

    cmd = [sys.executable, "-m", "cleann", *_explain_argv(db, tiny_text_model, "--batch-size", "1", *extra)]
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    run = _run_row(db)
    assert run["status"] == "completed" and run["owner_pid"] != 0

    clean_db = make_text_db(tmp_path / "clean.duckdb")
    clean = explain.run_local(PARAMS, ExecParams(batch_size=1), tiny_text_model, clean_db)
    assert clean.run_id == run["run_id"]
    assert table_rows(db, run["run_id"]) == table_rows(clean_db, clean.run_id)


# --- a runaway query ------------------------------------------------------------------------

def _start_sql(db: Path, *extra: str) -> tuple[subprocess.Popen, float]:
    """`cleann sql RUNAWAY` in its own session; returns once it has the database open (the
    query starts right after), with the time it was seen open."""
    proc = subprocess.Popen([sys.executable, "-m", "cleann", "sql", RUNAWAY, "--db", str(db), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    target = str(db.resolve())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            links = [os.readlink(f) for f in Path(f"/proc/{proc.pid}/fd").iterdir()]
        except OSError:
            links = []
        if target in links:
            return proc, time.monotonic()
        time.sleep(0.01)
    proc.kill()
    raise AssertionError(f"`cleann sql` never opened the database: {proc.communicate()}")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="waits for the open database through /proc")
def test_ctrl_c_stops_a_runaway_sql_query(tmp_path):
    db = make_text_db(tmp_path / "q.duckdb")
    proc, opened = _start_sql(db, "--timeout", "0")
    time.sleep(1.0)  # well inside the query now
    assert proc.poll() is None
    sent = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    latency = time.monotonic() - sent
    print(f"sql: exit {proc.returncode} {latency:.3f} s after SIGINT")
    assert proc.returncode == 130 and latency < STOP_LIMIT_S
    assert err == "cleann: interrupted\n" and out == ""


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="waits for the open database through /proc")
def test_timeout_stops_a_runaway_sql_query(tmp_path):
    db = make_text_db(tmp_path / "q.duckdb")
    proc, opened = _start_sql(db, "--timeout", "1")
    out, err = proc.communicate(timeout=60)
    after = time.monotonic() - opened
    print(f"sql --timeout 1: exit {proc.returncode} {after:.3f} s after the database was opened")
    assert proc.returncode == 1 and after < 1 + STOP_LIMIT_S
    assert err.count("\n") == 1 and "--timeout 1 s" in err and out == ""


def test_query_guard_interrupts_duckdb_and_says_why():
    import duckdb

    from cleann.cli._interrupt import QueryGuard
    from cleann.store.readonly import QueryLimitError

    con = duckdb.connect()
    with QueryGuard(timeout_s=0.3) as guard:
        guard.attach(con)
        started = time.monotonic()
        with pytest.raises(duckdb.InterruptException):
            con.execute(RUNAWAY).fetchall()
        took = time.monotonic() - started
        guard.detach()
    assert 0.25 < took < 0.3 + STOP_LIMIT_S
    assert isinstance(guard.outcome(), QueryLimitError) and guard.outcome().exit_code == 1
    assert con.execute("SELECT 42").fetchall() == [(42,)]  # the connection stays usable


def test_sql_memory_limit_is_duckdbs_and_checked(tmp_path):
    db = make_text_db(tmp_path / "m.duckdb")
    code, out, err = run_cli(["sql", "SELECT list(range) FROM range(100000000)", "--db", db,
                              "--memory-limit", "100MB"])
    assert code == 1 and err.count("\n") == 1 and "ran out of memory" in err and "--memory-limit" in err
    code, out, err = run_cli(["sql", "SELECT current_setting('memory_limit') AS m", "--db", db,
                              "--memory-limit", "300MB", "--format", "json"])
    assert code == 0 and json.loads(out) == [{"m": "286.1 MiB"}]
    code, out, err = run_cli(["sql", "SET memory_limit = '10GB'", "--db", db])
    assert code == 2  # still refused: the sandbox locks the configuration after the limit
    for bad in (["--memory-limit", "lots"], ["--timeout", "-1"], ["--timeout", "nan"]):
        code, out, err = run_cli(["sql", "SELECT 1", "--db", db, *bad])
        assert code == 2 and err.count("\n") == 1 and bad[0] in err, (bad, err)
    code, out, err = run_cli(["query", "runs", "--db", db, "--memory-limit", "lots"])
    assert code == 2 and "--memory-limit" in err


# --- a run whose owner is gone ----------------------------------------------------------------

REGISTER = """
import sys
from contextlib import closing
from cleann.pipeline.params import ExplainParams
from cleann.store.db import connect
from cleann.store.runs import register_run
with closing(connect(sys.argv[1])) as con:
    register_run(con, sys.argv[2], ExplainParams(corpus_name="tiny"), "/models/m", "0" * 64)
"""


def test_a_run_whose_owner_is_gone_reads_abandoned_until_taken_over(tmp_path):
    from cleann.store.runs import register_run

    db = make_text_db(tmp_path / "owners.duckdb")
    subprocess.run([sys.executable, "-c", REGISTER, str(db), "gone"], check=True, timeout=120)  # then exits
    with closing(connect(db)) as con:
        register_run(con, "mine", ExplainParams(corpus_name="tiny", split="all"), "/models/m", "0" * 64)
        # a pid that runs now, but started later than the recorded owner: a reused pid
        register_run(con, "reused", ExplainParams(corpus_name="tiny", split="train"), "/models/m", "0" * 64)
        con.execute("UPDATE runs SET owner_start = 'another-boot/1' WHERE run_id = 'reused'")
        stored = dict(con.execute("SELECT run_id, status FROM runs").fetchall())
    assert set(stored.values()) == {"running"}

    code, out, err = run_cli(["query", "runs", "--db", db, "--format", "json"])
    assert code == 0, err
    assert {r["run_id"]: r["status"] for r in json.loads(out)} == \
        {"gone": "abandoned", "mine": "running", "reused": "abandoned"}
    code, out, err = run_cli(["sql", "SELECT status, count(*) AS n FROM runs GROUP BY 1 ORDER BY 1",
                              "--db", db, "--format", "json"])
    assert json.loads(out) == [{"status": "abandoned", "n": 2}, {"status": "running", "n": 1}]

    with closing(connect(db)) as con:  # a re-run of the same command takes the run over
        register_run(con, "gone", ExplainParams(corpus_name="tiny"), "/models/m", "0" * 64)
    code, out, err = run_cli(["query", "runs", "--db", db, "--format", "json"])
    assert {r["run_id"]: r["status"] for r in json.loads(out)}["gone"] == "running"
    row = _run_row(db, "gone")
    assert row["owner_pid"] == os.getpid() and row["owner_host"]
