"""Prefect console logging for the CLI: a failed run is reported once, as the CLI's line.

Why: when a flow fails on a user mistake, Prefect logs the exception with its traceback
(flow- and task-run loggers, level ERROR) to the console, and then the CLI prints its
own one-line message; users saw 80-90 lines for a bad label. Prefect's API log handler
still records every record (Prefect UI, `prefect flow-run logs`); only the console copy
of ERROR records from run loggers is dropped. A bug (not a `CleannError`) still ends in
Python's traceback, printed by the interpreter when the CLI re-raises it.

The settings file is Prefect's own default ``logging.yml`` plus one filter, written
under ``$PREFECT_HOME`` and selected with the documented ``PREFECT_LOGGING_SETTINGS_PATH``
(never overriding a path the user set). This module does not import Prefect.
"""
from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


class HideRunErrors(logging.Filter):
    """Drop ERROR+ records of flow/task run loggers (the CLI reports the failure itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno >= logging.ERROR and record.name.startswith(RUN_LOGGERS))


def install_logging_settings() -> Path | None:
    """Point Prefect at the filtered console settings; returns the file, or None if the
    user chose their own settings or the file could not be written (Prefect's default
    then applies, tracebacks included)."""
    if os.environ.get("PREFECT_LOGGING_SETTINGS_PATH"):
        return None
    try:
        import yaml

        spec = importlib.util.find_spec("prefect")
        if spec is None or not spec.submodule_search_locations:
            return None
        default = Path(list(spec.submodule_search_locations)[0]) / "logging" / "logging.yml"
        config = yaml.safe_load(default.read_text())
        config.setdefault("filters", {})["cleann_hide_run_errors"] = {
            "()": f"{__name__}.HideRunErrors"}
        console = config["handlers"]["console"]
        console["filters"] = [*console.get("filters", []), "cleann_hide_run_errors"]
        text = yaml.safe_dump(config, sort_keys=False)
        home = Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser()
        path = home / "cleann-cli-logging.yml"
        if not path.is_file() or path.read_text() != text:
            home.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text(text)
            tmp.replace(path)
    except Exception:  # noqa: BLE001 - any problem: keep Prefect's default settings
        return None
    os.environ["PREFECT_LOGGING_SETTINGS_PATH"] = str(path)
    return path
