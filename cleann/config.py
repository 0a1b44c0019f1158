"""Where cleann keeps its cache and database: one place, overridable by environment.

Why: every stage (artifact fetch, training, flows, CLI) must agree on these paths, and
users must be able to move them (CI, shared disks) without code changes.
"""
from __future__ import annotations

import os
from pathlib import Path


def cleann_home() -> Path:
    """Cache root for fetched artifacts, trained models and Prefect state ($CLEANN_HOME)."""
    return Path(os.environ.get("CLEANN_HOME", Path.home() / ".cache" / "cleann")).expanduser()


def default_db_path() -> Path:
    """The embedded default DuckDB file ($CLEANN_DB, else ./cleann.duckdb)."""
    return Path(os.environ.get("CLEANN_DB", "cleann.duckdb")).expanduser()
