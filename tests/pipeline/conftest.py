"""Tiny models and corpora for pipeline tests (built in the test session, no network)."""
from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_helpers import NEGATIVE, POSITIVE, make_text_db


@pytest.fixture(scope="session")
def tiny_text_model(tmp_path_factory) -> Path:
    from cleann.models.tiny import make_tiny_classifier

    return make_tiny_classifier(tmp_path_factory.mktemp("clf") / "m", positive_words=POSITIVE,
                                negative_words=NEGATIVE)


@pytest.fixture(scope="session")
def tiny_rec_model(tmp_path_factory) -> Path:
    from cleann.models.tiny import make_tiny_bert4rec

    return make_tiny_bert4rec(tmp_path_factory.mktemp("rec") / "m", n_items=20)


@pytest.fixture
def text_db(tmp_path) -> Path:
    return make_text_db(tmp_path / "t.duckdb")
