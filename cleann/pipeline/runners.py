"""Task runner from a name: threads, processes, or a Dask cluster.

Why: the same flow runs on a laptop (threads/processes) and on a Dask cluster; a
LocalCluster is started when no scheduler address is given. Workers are processes
with one thread each, so graph learning uses all cores despite the GIL.
"""
from __future__ import annotations

import os

from cleann.errors import BadInputError


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def make_task_runner(runner: str, dask_address: str | None = None, workers: int | None = None):
    """A Prefect task runner for ``runner`` in threads | processes | dask."""
    n = workers or default_workers()
    if runner in ("threads", "sequential"):
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=1 if runner == "sequential" else n)
    if runner == "processes":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=n)
    if runner == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError:
            raise BadInputError("runner 'dask' needs the dask extra: pip install 'cleann[dask]'") from None
        if dask_address:
            return DaskTaskRunner(address=dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": n, "threads_per_worker": 1, "processes": True,
                                              "dashboard_address": None})
    raise BadInputError(f"runner {runner!r}: use threads, processes or dask")
