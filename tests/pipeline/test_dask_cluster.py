"""On a real Dask cluster (worker processes, as `dask worker` starts them) the task runs are
recorded in the flow's own Prefect server and no worker starts a server (issue 22).

Why a child process for the flow: the session's `prefect_harness` puts its API URL in the
settings, which hides the bug; `cleann explain` with no PREFECT_API_URL starts a temporary
server known only to its own process, exactly what the workers used to miss.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time

import pytest

from pipeline_helpers import make_text_db

pytestmark = pytest.mark.flow

# Runs `cleann explain` in-process, then asks the same (still running) temporary server for
# the task runs of every flow run it recorded; prints one JSON line.
CHILD = r"""
import asyncio, json, sys
from cleann.cli import main

rc = main(sys.argv[1:])

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.sorting import FlowRunSort, TaskRunSort
from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import PREFECT_API_URL


async def read():
    async with get_client() as client:
        flows = await client.read_flow_runs(limit=50, sort=FlowRunSort.ID_DESC)
        runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[f.id for f in flows])),
                                           limit=200, sort=TaskRunSort.EXPECTED_START_TIME_DESC)
        ids = {f.id for f in flows}
        flow_names = {f.flow_id: (await client.read_flow(f.flow_id)).name for f in flows}
        return ([[flow_names[f.flow_id], f.parent_task_run_id is not None, f.state_name] for f in flows],
                [[r.task_key.rsplit("-", 1)[0], r.state_name, r.flow_run_id in ids] for r in runs])


flows, tasks = asyncio.run(read())
server = SubprocessASGIServer()
print(json.dumps({"rc": rc, "env_api_url": PREFECT_API_URL.value(), "server": server.api_url if server.running else None,
                  "flows": flows, "tasks": tasks}))
"""


def _marked(mark: str) -> list[tuple[int, str]]:
    """(pid, command line) of every process whose environment carries ``mark``."""
    needle = mark.encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as fh:
                if needle not in fh.read().split(b"\0"):
                    continue
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                found.append((int(name), fh.read().replace(b"\0", b" ").decode(errors="replace")))
        except OSError:
            pass
    return found


def _worker_prefect_state() -> dict:
    """In a worker: its pid and the temporary Prefect servers it started (Prefect keeps them
    in `SubprocessASGIServer._instances`)."""
    import os
    import sys

    servers = []
    if "prefect.server.api.server" in sys.modules:
        from prefect.server.api.server import SubprocessASGIServer

        servers = [s.api_url for s in SubprocessASGIServer._instances.values() if s.running]
    return {"pid": os.getpid(), "prefect_imported": "prefect" in sys.modules, "servers": servers}


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds processes through /proc (Linux)")
def test_dask_workers_report_to_the_flow_server(tmp_path, tiny_text_model):
    pytest.importorskip("prefect_dask")
    from distributed import Client, LocalCluster

    db = make_text_db(tmp_path / "dask.duckdb")
    mark = f"CLEANN_TEST_DASK_WORKER={secrets.token_hex(6)}"
    key, value = mark.split("=")
    # The workers get the mark in their environment; a server one of them started would
    # inherit it (Prefect passes os.environ on), so it is found even after its worker died.
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           env={key: value})
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
        env["PREFECT_HOME"] = str(tmp_path / "prefect")  # a fresh database for the flow's server
        args = ["explain", "imdb", "--corpus-name", "tiny", "--num-samples", "768", "--model", str(tiny_text_model),
                "--db", str(db), "--limit", "4", "--batch-size", "1", "--runner", "dask",
                "--dask-address", cluster.scheduler_address, "--format", "json"]
        proc = subprocess.run([sys.executable, "-c", CHILD, *args], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        assert out["rc"] == 0 and out["env_api_url"] is None and out["server"], out

        with Client(cluster.scheduler_address) as client:
            states = list(client.run(_worker_prefect_state).values())
        assert len(states) == 2 and all(s["prefect_imported"] for s in states), states  # both ran tasks
        assert [s["servers"] for s in states] == [[], []], states
        assert _marked(mark) == [p for p in _marked(mark) if "prefect.server.api.server" not in p[1]], \
            "a worker started a Prefect server"

        # explain_corpus and its subflow staged_batches, both completed, hold every task run
        assert sorted(out["flows"]) == [["explain_corpus", False, "Completed"], ["staged_batches", True, "Completed"]], \
            out["flows"]
        tasks = out["tasks"]
        assert all(in_flow and state == "Completed" for _, state, in_flow in tasks), tasks
        names = sorted(name for name, _, _ in tasks)
        assert names.count("work_batch") == 4 and names.count("load_batch") == 4, names
    finally:
        cluster.close()
    deadline = time.monotonic() + 15
    while _marked(mark) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _marked(mark) == [], "a worker left a process behind"
