"""Shared test set-up: offline, isolated caches, one Prefect test server per session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# Cases produced by running the authors' reference implementation (FORMAT.md); kept in the
# repository so a clone anywhere runs the same tests.
GOLDEN_DIR = REPO_ROOT / "tests" / "golden"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from cleann.prefect_env import configure_prefect_env  # noqa: E402

configure_prefect_env()


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect API for tests that run real flows (started once, ~15 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def tmp_db(tmp_path: Path) -> Path:
    """A fresh DuckDB path inside the test's temporary folder."""
    return tmp_path / "test.duckdb"
