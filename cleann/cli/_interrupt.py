"""Ctrl-C that stops a command at once: jobs (explain, retry, evaluate, demo) and queries.

Why not Python's KeyboardInterrupt: it is raised only between bytecodes of the main
thread, so a long DuckDB query or model call in C never sees it, and a Prefect flow turns
it into crash handling that talks to an API server which the same Ctrl-C (sent to the
whole process group) has just stopped. Measured before this module (issue 22): two httpx
tracebacks, ~106 lines, exit 1 and the run left ``running``; with the group signalled the
flow ran on for over 60 s; a runaway `cleann sql` query ran on for minutes.

How: ``signal.set_wakeup_fd`` makes the C-level signal handler write the signal number
to a socket at once, whatever the main thread is doing, and a watcher thread acts on it:

- jobs (:func:`stop_job_on_interrupt`): this process's stderr is silenced (threads still
  logging cannot add lines), every descendant process (the temporary Prefect server,
  pool workers, the orphan reaper) gets SIGKILL; the runs this process owns that are
  still ``running`` are marked ``interrupted``; one line ``cleann: interrupted``;
  ``os._exit(130)``. A hard exit loses nothing: staged batches are written atomically
  and loaded in one transaction each, which is what makes a SIGKILLed run resume to
  exactly a clean run's rows (tests/pipeline/test_sigkill.py); the Prefect server keeps
  its state in SQLite, which survives SIGKILL. SIGKILL rather than SIGTERM: a server
  asked to stop prints its own cancellation tracebacks (measured: ~40 lines) and may
  wait for open requests.
- queries (:class:`QueryGuard`): DuckDB's own ``connection.interrupt()`` on Ctrl-C or
  when ``--timeout`` expires; the command then prints one line and exits 130 or 1.

The Python-level handler does the same work when the watcher cannot (another library
took the wakeup fd); every step of a job's stop has a deadline, so the exit comes within
about 2 s even if the database is busy.
"""
from __future__ import annotations

import argparse
import os
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cleann.cli._exit import INTERRUPTED

INTERRUPTED_LINE = "cleann: interrupted"
KILL_WAIT_S = 0.8     # descendants get this long to be gone after SIGKILL
MARK_WAIT_S = 0.8     # marking the runs waits this long for the database


class _SignalWatch:
    """Calls ``on_sigint()`` from a watcher thread as soon as SIGINT arrives (via the wakeup
    fd), and from the Python-level handler in the main thread as a fallback."""

    def __init__(self, on_sigint: Callable[[], None], on_python_handler: Callable[[], None] | None = None):
        self._on_sigint = on_sigint
        self._on_python_handler = on_python_handler or on_sigint
        self.active = False

    def __enter__(self) -> _SignalWatch:
        if threading.current_thread() is not threading.main_thread():
            return self  # signals reach the main thread only; nothing to watch from here
        self._read, self._write = socket.socketpair()
        self._write.setblocking(False)
        self._old_handler = signal.signal(signal.SIGINT, self._handler)
        self._old_fd = signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
        self._thread = threading.Thread(target=self._watch, name="cleann-interrupt", daemon=True)
        self._thread.start()
        self.active = True
        return self

    def _handler(self, signum: int, frame: Any) -> None:
        self._on_python_handler()

    def _watch(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self._read], [], [])
                data = self._read.recv(64) if ready else b""
            except OSError:
                return
            if not data:
                return  # closed by __exit__
            if signal.SIGINT in data:
                self._on_sigint()

    def __exit__(self, *exc: object) -> None:
        if not self.active:
            return
        self.active = False
        try:
            signal.set_wakeup_fd(self._old_fd)
        finally:
            signal.signal(signal.SIGINT, self._old_handler)
            self._write.close()  # the watcher reads EOF and ends
            self._thread.join(timeout=1.0)
            self._read.close()


# --- jobs ---------------------------------------------------------------------------------

def _descendants(root: int) -> list[int]:
    """Every process below ``root`` (children first), from /proc; empty where it is missing."""
    children: dict[int, list[int]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(name))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            found.append(child)
            stack.append(child)
    return found


def _running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (an exited child not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def kill_descendants(root: int | None = None, wait_s: float = KILL_WAIT_S) -> list[int]:
    """SIGKILL every descendant of ``root`` (default: this process) and wait up to
    ``wait_s`` for them to be gone; returns the pids killed. Repeated scans catch a
    process started meanwhile (a child's own child)."""
    root = os.getpid() if root is None else root
    killed: set[int] = set()
    deadline = time.monotonic() + wait_s
    while True:
        alive = [p for p in _descendants(root) if _running(p)]
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            killed.add(pid)
        if not alive or time.monotonic() >= deadline:
            return sorted(killed)
        time.sleep(0.01)


def _bounded(fn: Callable[[], object], timeout_s: float) -> None:
    """Run ``fn`` in a daemon thread for at most ``timeout_s``; its errors are ignored (the
    stop must go on whatever happens)."""
    def call() -> None:
        try:
            fn()
        except BaseException:  # noqa: BLE001 - best effort
            pass

    thread = threading.Thread(target=call, daemon=True, name="cleann-stop-step")
    thread.start()
    thread.join(timeout_s)


class _JobStopper:
    def __init__(self, dbs: Iterable[str | Path | None]):
        from cleann.store.runs import mark_owned_runs_interrupted  # imported now, not while stopping

        self.dbs = list(dbs)
        self._mark = mark_owned_runs_interrupted
        self._lock = threading.Lock()

    def _mark_runs(self) -> None:
        deadline = time.monotonic() + MARK_WAIT_S
        for db in self.dbs:
            self._mark(db, wait_s=max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        """Stop everything and exit 130; runs once (a second Ctrl-C waits for the first)."""
        if not self._lock.acquire(blocking=False):
            while True:  # the first stop is under way and ends the process
                time.sleep(1)
        err = None
        try:
            err = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)  # nothing else this process writes to stderr reaches the user now
            os.close(devnull)
        except OSError:
            pass
        try:
            kill_descendants()
            _bounded(self._mark_runs, MARK_WAIT_S + 0.3)
            _bounded(sys.stdout.flush, 0.2)
        finally:
            try:
                os.write(err if err is not None else 2, (INTERRUPTED_LINE + "\n").encode())
            except OSError:
                pass
            os._exit(INTERRUPTED)


@contextmanager
def stop_job_on_interrupt(*dbs: str | Path | None) -> Iterator[None]:
    """While a job command runs: Ctrl-C stops it within about 2 s (see the module doc),
    marks this process's running runs in ``dbs`` (None: the default database) as
    ``interrupted``, prints one line and exits 130."""
    from cleann.config import default_db_path

    stopper = _JobStopper(db or default_db_path() for db in dbs)
    with _SignalWatch(stopper.stop):
        yield


# --- queries ------------------------------------------------------------------------------

class QueryGuard:
    """Interrupts the attached DuckDB connection on Ctrl-C or after ``timeout_s`` (0 or None:
    no limit), through DuckDB's ``interrupt()``; the query then raises
    ``duckdb.InterruptException`` and :meth:`outcome` says why.

    Use as a context manager around opening and running; :meth:`attach` is called with the
    open connection (the timeout counts from there, not while waiting for a writer)."""

    def __init__(self, timeout_s: float | None = None):
        self.timeout_s = timeout_s or None
        self.reason: str | None = None  # 'interrupted' | 'timeout'
        self._con = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._watch = _SignalWatch(lambda: self._fire("interrupted"), self._python_handler)

    def __enter__(self) -> QueryGuard:
        self._watch.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()
        self._watch.__exit__(*exc)

    def attach(self, con) -> None:
        with self._lock:
            self._con = con
            fired = self.reason is not None
        if fired:
            con.interrupt()
        if self.timeout_s:
            self._timer = threading.Timer(self.timeout_s, self._fire, ["timeout"])
            self._timer.daemon = True
            self._timer.start()

    def detach(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._con = None

    def _fire(self, reason: str) -> None:
        with self._lock:
            if self.reason is None or reason == "interrupted":
                self.reason = reason
            con = self._con
        if con is not None:
            try:
                con.interrupt()
            except Exception:  # noqa: BLE001 - a closed connection has nothing to stop
                pass

    def _python_handler(self) -> None:
        """In the main thread: with no query running (opening, waiting for the writer,
        printing) Ctrl-C is a plain KeyboardInterrupt."""
        self._fire("interrupted")
        if self._con is None:
            raise KeyboardInterrupt

    def outcome(self, what: str = "query") -> BaseException:
        """The exception to raise for a query that DuckDB interrupted."""
        if self.reason == "timeout":
            from cleann.store.readonly import QueryLimitError

            return QueryLimitError(f"{what} stopped after --timeout {self.timeout_s:g} s "
                                   "(pass a larger --timeout, or 0 for none)")
        return KeyboardInterrupt()

    def check(self) -> None:
        """Raise KeyboardInterrupt if Ctrl-C came while no query was running."""
        if self.reason == "interrupted":
            raise KeyboardInterrupt


def add_query_limits(parser: argparse.ArgumentParser) -> None:
    """``--timeout`` and ``--memory-limit`` of `cleann sql` and `cleann query` (declared once)."""
    from cleann.store.readonly import DEFAULT_MEMORY_LIMIT, DEFAULT_TIMEOUT_S

    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help=f"stop the query after this many seconds, exit 1 (default {DEFAULT_TIMEOUT_S:g}; "
                             "0 = no limit); Ctrl-C stops it too (exit 130)")
    parser.add_argument("--memory-limit", default=DEFAULT_MEMORY_LIMIT, metavar="SIZE",
                        help=f"DuckDB memory limit of the query, e.g. 500MB, 4GB (default {DEFAULT_MEMORY_LIMIT}); "
                             "a query that needs more stops with exit 1")


def check_query_limits(args: argparse.Namespace) -> None:
    """One line, exit 2, for a --timeout or --memory-limit that cannot be used."""
    from cleann.errors import BadInputError
    from cleann.store.readonly import check_memory_limit

    if not args.timeout >= 0 or args.timeout == float("inf"):  # also refuses nan
        raise BadInputError(f"--timeout {args.timeout:g}: use a number of seconds, 0 (no limit) or more")
    args.memory_limit = check_memory_limit(args.memory_limit)


def guarded(args: argparse.Namespace, run: Callable[[Callable[[Any], None]], Any], what: str = "query") -> Any:
    """``run(on_connect)`` under Ctrl-C and ``--timeout``: DuckDB interrupts the query; the
    command then ends with one line (KeyboardInterrupt: exit 130; the timeout: exit 1)."""
    import duckdb

    with QueryGuard(args.timeout) as guard:
        try:
            result = run(guard.attach)
        except duckdb.InterruptException:
            raise guard.outcome(what) from None
        finally:
            guard.detach()
        guard.check()
    return result
