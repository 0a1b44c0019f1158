"""Prefect settings that make flows run offline on a small machine without user set-up.

Why: with no PREFECT_API_URL the first flow call starts a temporary local server whose
default start-up timeout (20 s) is too tight on 2 cores, and Prefect would otherwise write
to ~/.prefect and try to send analytics. Call this before importing prefect.
"""
from __future__ import annotations

import os
from pathlib import Path

from cleann.config import cleann_home


def configure_prefect_env() -> None:
    """Set defaults for Prefect's environment; values the user already set win."""
    defaults = {
        "PREFECT_HOME": str(cleann_home() / "prefect"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    # Prefect creates PREFECT_HOME itself but not its parents; on a fresh machine the
    # temporary server then fails to start (seen as a 90 s start-up timeout).
    Path(os.environ["PREFECT_HOME"]).expanduser().mkdir(parents=True, exist_ok=True)
