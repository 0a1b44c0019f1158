"""Prefect settings that make flows run offline on a small machine without user set-up,
and a guard so that a killed command does not leave its temporary Prefect server behind.

Why the settings: with no PREFECT_API_URL the first flow call starts a temporary local
server whose default start-up timeout (20 s) is too tight on 2 cores, and Prefect would
otherwise write to ~/.prefect and try to send analytics. Call this before importing prefect.

Why the guard: Prefect 3.8.8 starts that server as a child process
(``SubprocessASGIServer._run_uvicorn_command``: ``python -m uvicorn ...
prefect.server.api.server:create_app``) and stops it from an ``atexit`` hook. SIGKILL (or
any death that skips atexit) leaves it running forever under PID 1 (~220 MB). The guard,
which imports nothing from Prefect:
1. marks this process's children: ``CLEANN_OWNER=<pid>-<random>`` is put in
   ``os.environ``, which Prefect copies into the server's environment;
2. watches process creation with a Python audit hook (``subprocess.Popen`` event) and,
   the first time a Prefect server is spawned, starts a tiny reaper process (stdlib only,
   ~10 MB) that polls its parent every 0.2 s;
3. when the command dies, however it dies, the reaper sends SIGTERM (then SIGKILL after
   5 s) to every process whose environment carries the mark, and exits. After a normal
   exit Prefect has already stopped the server and the reaper finds nothing to do.
Measured in tests/test_orphans.py: a SIGKILLed `cleann` leaves no server process.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
from pathlib import Path

from cleann.config import cleann_home

OWNER_ENV = "CLEANN_OWNER"
PREFECT_SERVER_MARK = "prefect.server.api.server"

# Runs as `python -I -S -c REAPER_CODE TOKEN PARENT_PID`; stdlib only, no cleann import.
REAPER_CODE = r"""
import os, signal, sys, time
token, parent = sys.argv[1], int(sys.argv[2])
signal.signal(signal.SIGINT, signal.SIG_IGN)      # Ctrl-C is for the command; we clean up after it
while os.getppid() == parent:
    time.sleep(0.2)
needle = ("%s=%s" % (sys.argv[3], token)).encode()
me = os.getpid()

def marked():
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as fh:
                if needle in fh.read().split(b"\0"):
                    found.append(int(name))
        except OSError:
            pass
    return found

pids = marked()
for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        pids = [p for p in marked() if p in pids]
        if not pids:
            break
        time.sleep(0.1)
    if not pids:
        break
"""

_guard_lock = threading.Lock()
_guard_token: str | None = None
_reaper: subprocess.Popen | None = None
_starting = False


def configure_prefect_env() -> None:
    """Set defaults for Prefect's environment; values the user already set win. Also
    installs the orphan guard (see the module docstring)."""
    defaults = {
        "PREFECT_HOME": str(cleann_home() / "prefect"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        # the flows' own messages at INFO for the Prefect UI (API handler); the terminal
        # shows WARNING and above only (issue 13)
        "PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL": "INFO",
        "PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL": "INFO",
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    # Prefect creates PREFECT_HOME itself but not its parents; on a fresh machine the
    # temporary server then fails to start (seen as a 90 s start-up timeout).
    Path(os.environ["PREFECT_HOME"]).expanduser().mkdir(parents=True, exist_ok=True)
    install_orphan_guard()


def install_orphan_guard() -> str | None:
    """Mark this process's future children and reap them if this process dies; returns
    the mark (None where /proc is missing, i.e. not Linux: the guard then does nothing).
    Idempotent per process."""
    global _guard_token
    if not os.path.isdir("/proc/self"):
        return None
    with _guard_lock:
        if _guard_token is None or not _guard_token.startswith(f"{os.getpid()}-"):
            # A new process (first call, or a fork of a guarded one): its own mark.
            _guard_token = f"{os.getpid()}-{secrets.token_hex(6)}"
            if not getattr(sys, "_cleann_audit_hook", False):
                sys.addaudithook(_on_audit_event)
                sys._cleann_audit_hook = True  # type: ignore[attr-defined]
        os.environ[OWNER_ENV] = _guard_token
        return _guard_token


def _on_audit_event(event: str, args: tuple) -> None:
    """Start the reaper when this process spawns a Prefect server (the first time only)."""
    if event != "subprocess.Popen" or _starting or _guard_token is None:
        return
    if _reaper is not None and _reaper.poll() is None:
        return
    try:
        command = args[1]
        text = " ".join(map(str, command)) if isinstance(command, (list, tuple)) else str(command)
    except Exception:  # noqa: BLE001 - an audit hook must never break the caller
        return
    if PREFECT_SERVER_MARK in text:
        start_reaper()


def start_reaper() -> subprocess.Popen | None:
    """Start (once per process) the reaper that cleans up marked processes after this one
    dies; returns it. Called automatically when a Prefect server is spawned."""
    global _reaper, _starting
    token = install_orphan_guard()
    if token is None:
        return None
    with _guard_lock:
        if _reaper is not None and _reaper.poll() is None:
            return _reaper
        _starting = True
        try:
            env = {k: v for k, v in os.environ.items() if k != OWNER_ENV}  # never reap itself
            _reaper = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", REAPER_CODE, token, str(os.getpid()), OWNER_ENV],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env=env, start_new_session=True, close_fds=True)
        except OSError:
            _reaper = None
        finally:
            _starting = False
        return _reaper
