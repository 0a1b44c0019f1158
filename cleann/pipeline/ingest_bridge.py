"""Ingest a known offline corpus on first use, so `cleann explain` works on a fresh db.

Why a bridge: ingestion belongs to the foundation (`cleann ingest`); the pipeline only
needs "make this named offline corpus present" and calls the foundation's readers and
`cleann.store.ingest` (which records the source's provenance).
"""
from __future__ import annotations

import duckdb

from cleann.errors import BadInputError


def ingest_offline(con: duckdb.DuckDBPyConnection, kind: str, name: str) -> None:
    """Load the offline corpus ``name`` into `documents` or `interactions`/`items`."""
    from cleann.store.ingest import ingest_documents, ingest_movielens

    if kind == "imdb":
        from cleann.sources.text import load_offline

        ingest_documents(con, load_offline(name))
        return
    if name != "ml-100k":
        raise BadInputError(f"MovieLens corpus {name!r} is not in the database; ingest it first "
                            "(`cleann ingest`), or use the offline corpus ml-100k")
    from cleann.sources.movielens import load_offline_ml100k

    ingest_movielens(con, *load_offline_ml100k())
