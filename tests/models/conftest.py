"""Tiny checkpoints shared by the model tests (built once per session, in tmp folders)."""
from __future__ import annotations

import pytest

from cleann.models.tiny import make_tiny_bert4rec, make_tiny_classifier

POSITIVE = ["good", "great"]
NEGATIVE = ["bad", "awful"]


@pytest.fixture(scope="session")
def lexicon_dir(tmp_path_factory):
    """Lexicon classifier: class 1 iff count(good, great) > count(bad, awful)."""
    return make_tiny_classifier(tmp_path_factory.mktemp("lexicon"), positive_words=POSITIVE,
                                negative_words=NEGATIVE, max_position_embeddings=24)


@pytest.fixture(scope="session")
def lexicon(lexicon_dir):
    from cleann.models.sentiment import load_classifier

    return load_classifier(lexicon_dir)


@pytest.fixture(scope="session")
def random_dir(tmp_path_factory):
    return make_tiny_classifier(tmp_path_factory.mktemp("random"), seed=3, num_labels=3)


@pytest.fixture(scope="session")
def tiny_rec(tmp_path_factory):
    from cleann.models.bert4rec import load_bert4rec

    return load_bert4rec(make_tiny_bert4rec(tmp_path_factory.mktemp("rec"), n_items=40,
                                            seed=1))
