"""Training both defaults at once: the child process never outlives the command."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc")

PARENT = textwrap.dedent("""
    import multiprocessing, os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from cleann.models.default import _die_with_parent
    guard = _die_with_parent if sys.argv[1] == "guard" else None
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=guard)
    print(pool.submit(os.getpid).result(), flush=True)
    pool.submit(time.sleep, 120)
    time.sleep(120)
""")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _child_after_parent_killed(mode: str, wait: float) -> tuple[int, bool]:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, mode], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + wait
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    return child, _alive(child)


def test_the_training_child_dies_with_its_parent():
    child, alive = _child_after_parent_killed("guard", wait=10)
    assert not alive, f"child {child} outlived its killed parent"


def test_without_the_guard_the_child_would_be_left_behind():
    """The check above can fail: a plain pool worker survives SIGKILL of its parent."""
    child, alive = _child_after_parent_killed("plain", wait=2)
    try:
        assert alive
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)


def test_both_cached_models_are_returned_without_training(tmp_path, monkeypatch):
    from cleann.models import default

    monkeypatch.setattr(default, "_needs_training", lambda target, version: False)
    monkeypatch.setattr(default, "ensure_default_sentiment", lambda log=print: tmp_path / "s")
    monkeypatch.setattr(default, "ensure_default_bert4rec", lambda log=print: tmp_path / "b")
    assert default.ensure_default_models(log=lambda s: None) == (tmp_path / "s", tmp_path / "b")
