"""Defaults for a run when the user names only the corpus kind.

Why: `cleann explain imdb` should work on a fresh machine: the embedded offline corpus and
the default model (trained once by the models package, then reused).
"""
from __future__ import annotations

from pathlib import Path

DEFAULT_CORPUS = {"imdb": "rt_snippets", "movielens": "ml-100k"}


def default_corpus_name(kind: str) -> str:
    return DEFAULT_CORPUS[kind]


def default_model_path(kind: str) -> Path:
    """The default checkpoint for ``kind``, trained on first use by `cleann.models.default`."""
    from cleann.models import default

    return default.ensure_default_sentiment() if kind == "imdb" else default.ensure_default_bert4rec()
