"""Ingest a known offline corpus on first use, so `cleann explain` works on a fresh db.

Why a bridge: ingestion belongs to the foundation (`cleann ingest`); the pipeline only
needs "make this named offline corpus present" and calls the foundation's readers.
"""
from __future__ import annotations

import duckdb

from cleann.errors import BadInputError


def ingest_offline(con: duckdb.DuckDBPyConnection, kind: str, name: str) -> None:
    """Load the offline corpus ``name`` into `documents` or `interactions`/`items`."""
    from cleann.store.db import insert_frame

    if kind == "imdb":
        from cleann.sources.text import load_offline

        try:
            frame = load_offline(name)
        except (KeyError, ValueError) as exc:
            raise BadInputError(f"corpus {name!r} is not in the database and is not an offline corpus: {exc}") from None
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM documents WHERE corpus = ?", [name])
        insert_frame(con, "documents", frame)
        con.execute("COMMIT")
        return
    if name != "ml-100k":
        raise BadInputError(f"MovieLens corpus {name!r} is not in the database; ingest it first (offline: ml-100k)")
    from cleann.sources.movielens import load_offline_ml100k

    interactions, items = load_offline_ml100k()
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM interactions WHERE corpus = ?", [name])
    con.execute("DELETE FROM items WHERE corpus = ?", [name])
    insert_frame(con, "interactions", interactions)
    insert_frame(con, "items", items)
    con.execute("COMMIT")
