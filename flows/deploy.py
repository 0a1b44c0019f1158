"""Scheduling `explain_corpus`: serve it on a cron against a running Prefect server.

Why `serve` and not only `prefect.yaml`: `flow.serve` needs no work pool or worker, so one
command (`cleann serve --cron "0 2 * * *" ...`) gives nightly runs visible in the Prefect
UI. The temporary server Prefect starts on demand cannot run schedules, so this requires
`prefect server start` and PREFECT_API_URL pointing at it. For work pools and workers use
`prefect.yaml` (`prefect deploy --all`).
"""
from __future__ import annotations

import os
from dataclasses import asdict

from cleann.errors import BadInputError
from cleann.pipeline.params import ExecParams, ExplainParams

SERVER_HINT = ("start a server with `prefect server start --host 127.0.0.1` and "
               "`export PREFECT_API_URL=http://127.0.0.1:4200/api`")


def check_api_url() -> str:
    """The configured Prefect API URL; schedules need a real (non-temporary) server."""
    url = os.environ.get("PREFECT_API_URL", "")
    if not url:
        from prefect.settings import PREFECT_API_URL

        url = PREFECT_API_URL.value() or ""
    if not url:
        raise BadInputError(f"scheduling needs a running Prefect server: {SERVER_HINT}")
    return url


def serve_explain(name: str, cron: str, params: ExplainParams, execution: ExecParams, timezone: str = "UTC") -> None:
    """Serve `explain_corpus` as deployment ``name`` on ``cron``; blocks until interrupted."""
    from prefect.schedules import Cron

    from cleann.flows.explain import explain_corpus

    check_api_url()
    explain_corpus.serve(name=name, schedules=[Cron(cron, timezone=timezone)],
                         parameters={"params": asdict(params), "execution": asdict(execution)},
                         description="CLEANN explanations of a corpus slice into DuckDB (resumable).")
