"""SIGKILL of a real `cleann` command takes its temporary Prefect server with it.

Before the guard in cleann/prefect_env.py, the server (``python -m uvicorn ...
prefect.server.api.server:create_app``, a child of the command) was re-parented to PID 1
and ran forever. The test starts `cleann ingest` in a subprocess with no PREFECT_API_URL,
waits until that command has spawned its server (and, in the second case, until the server
accepts connections), kills the command with SIGKILL and checks that within 15 s no
process of that server, and no reaper, remains.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

SERVER_MARK = "prefect.server.api.server"


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in task.read_text().split()]
        except OSError:
            pass
    return found


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="the guard works through /proc (Linux)")
# "server starting" (kill as soon as the server process exists) passes too (0.10 s);
# one case keeps the default suite short (~30 s on the 2-core dev VM).
@pytest.mark.parametrize("when", ["server serving"])
def test_sigkill_takes_the_prefect_server_along(tmp_path, when):
    csv = tmp_path / "reviews.csv"
    csv.write_text("text,label\n" + "".join(f"review number {i} good,{i % 2}\n" for i in range(20_000)))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PREFECT_") and k != "CLEANN_OWNER"}  # a command on its own
    env["CLEANN_HOME"] = str(tmp_path / "home")
    cmd = [sys.executable, "-m", "cleann", "ingest", "imdb", "--source", "csv", "--path", str(csv),
           "--corpus-name", "orphans", "--db", str(tmp_path / "x.duckdb")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server = reaper = None
    try:
        def find_server():
            for child in _children(proc.pid):
                if any(SERVER_MARK in part for part in _cmdline(child)):
                    return child
            assert proc.poll() is None, f"cleann exited ({proc.returncode}) before starting a server"
            return None

        server = _wait_for(find_server, 120, "the command's Prefect server process")
        args = _cmdline(server)
        port = int(args[args.index("--port") + 1])
        if when == "server serving":
            _wait_for(lambda: _port_open(port) or (proc.poll() is not None and "exited"), 120,
                      "the server to accept connections")
        reaper = next((c for c in _children(proc.pid) if "-c" in _cmdline(c) and c != server), None)
        assert proc.poll() is None, "the command finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        killed_at = time.monotonic()
        assert proc.returncode == -signal.SIGKILL
        _wait_for(lambda: not _alive(server), 15, f"server pid {server} to end after the kill")
        gone_after = time.monotonic() - killed_at
        assert reaper is not None, "no reaper was started next to the server"
        _wait_for(lambda: not _alive(reaper), 15, "the reaper to exit")
        print(f"{when}: server gone {gone_after:.2f} s after SIGKILL")
        if when == "server serving":
            assert not _port_open(port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in (server, reaper):  # only if the guard failed: never leave what we started
            if pid is not None and _alive(pid):
                os.kill(pid, signal.SIGKILL)
