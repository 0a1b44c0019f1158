"""Which process owns a run, and whether that process still exists.

Why: a run row says ``running`` from the moment it is registered until its job sets a final
status. If the process dies without doing so (SIGKILL, a power cut, the OOM killer), the
row would say ``running`` forever. So a run records its owner when it starts (migration
105: host name, pid and the process's start, which tells a reused pid from the original),
and readers show a ``running`` run whose owner is gone from this host as ``abandoned``
(``cleann.store.db``: the read-only connection's ``runs`` view). A re-run of the same
command takes the run over (it becomes the owner). An owner on another host cannot be
checked from here; such a run is shown as stored.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass

ABANDONED = "abandoned"  # shown for a `running` run whose owner process is gone; never stored


def process_start(pid: int) -> str | None:
    """When process ``pid`` started: ``<boot id>/<clock ticks since boot>`` (Linux), so a
    pid reused after the owner died (or after a reboot) does not look like the owner;
    None where /proc is not available or the process does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            ticks = fh.read().decode(errors="replace").rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None
    try:
        with open("/proc/sys/kernel/random/boot_id") as fh:
            boot = fh.read().strip()
    except OSError:
        boot = "?"
    return f"{boot}/{ticks}"


@dataclass(frozen=True)
class Owner:
    """A process that runs a job: host name, pid, and its start (``process_start``)."""

    host: str
    pid: int
    start: str | None

    @classmethod
    def current(cls) -> Owner:
        return cls(socket.gethostname(), os.getpid(), process_start(os.getpid()))

    def alive(self) -> bool | None:
        """True while the process runs, False once it is gone; None when it cannot be
        told from here (another host)."""
        if self.host != socket.gethostname():
            return None
        if self.pid is None or self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # exists, owned by another user
        if self.start is None:
            return True  # recorded without /proc: the pid exists, that is all we know
        return process_start(self.pid) == self.start


def abandoned_run_ids(rows) -> list[str]:
    """Of ``(run_id, owner_host, owner_pid, owner_start)`` rows of ``running`` runs, the ids
    whose owner process is known to be gone."""
    return [run_id for run_id, host, pid, start in rows
            if host is not None and pid is not None and Owner(host, int(pid), start).alive() is False]
