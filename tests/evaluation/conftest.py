"""Tiny models for evaluation tests: a lexicon classifier with a known decision rule,
a random tiny classifier, and a tiny random BERT4Rec (all built in milliseconds)."""
from __future__ import annotations

from pathlib import Path

import pytest

from evalkit import NEGATIVE, POSITIVE


@pytest.fixture(scope="session")
def lexicon(tmp_path_factory):
    """(model, tokenizer) whose class is 1 iff #positive words > #negative words."""
    from cleann.models.sentiment import load_classifier
    from cleann.models.tiny import make_tiny_classifier

    path = make_tiny_classifier(tmp_path_factory.mktemp("lexicon"), positive_words=POSITIVE,
                                negative_words=NEGATIVE)
    return load_classifier(path)


@pytest.fixture(scope="session")
def random_classifier(tmp_path_factory):
    from cleann.models.sentiment import load_classifier
    from cleann.models.tiny import make_tiny_classifier

    return load_classifier(make_tiny_classifier(tmp_path_factory.mktemp("rand"), seed=3))


@pytest.fixture(scope="session")
def tiny_rec(tmp_path_factory):
    from cleann.models.bert4rec import load_bert4rec
    from cleann.models.tiny import make_tiny_bert4rec

    return load_bert4rec(make_tiny_bert4rec(tmp_path_factory.mktemp("rec"), n_items=40, seed=1))


@pytest.fixture
def tmp_home(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("CLEANN_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="session")
def tiny_rec_path(tmp_path_factory):
    from cleann.models.tiny import make_tiny_bert4rec

    return make_tiny_bert4rec(tmp_path_factory.mktemp("recpath"), n_items=40, seed=2)
