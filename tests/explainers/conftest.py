"""Tiny models (built in milliseconds) and Samples as the evaluation and benchmark build them."""
from __future__ import annotations

import pytest

POSITIVE = ["good", "great", "brilliant", "fun", "love"]
NEGATIVE = ["bad", "awful", "boring", "dull", "terrible", "hate"]


@pytest.fixture(scope="session")
def text_backend(tmp_path_factory):
    """A TextBackend over a random tiny classifier."""
    from cleann.models.tiny import make_tiny_classifier
    from cleann.pipeline.batch import TextBackend

    return TextBackend(str(make_tiny_classifier(tmp_path_factory.mktemp("xrand"), seed=3)))


@pytest.fixture(scope="session")
def lexicon_backend(tmp_path_factory):
    """A TextBackend whose class is 1 iff #positive words > #negative words."""
    from cleann.models.tiny import make_tiny_classifier
    from cleann.pipeline.batch import TextBackend

    path = make_tiny_classifier(tmp_path_factory.mktemp("xlex"), positive_words=POSITIVE, negative_words=NEGATIVE)
    return TextBackend(str(path))


@pytest.fixture(scope="session")
def rec_backend(tmp_path_factory):
    from cleann.models.tiny import make_tiny_bert4rec
    from cleann.pipeline.batch import RecBackend

    return RecBackend(str(make_tiny_bert4rec(tmp_path_factory.mktemp("xrec"), n_items=40, seed=1)))
