"""Write loaded corpora into DuckDB idempotently and record where they came from.

Why: re-running an ingest (a retried flow, a second `cleann demo`) must add nothing,
while a changed source must be visible. Rows are keyed (documents by corpus + doc_id,
interactions by corpus + user + item + ts, items by corpus + item_id) and inserted with an
anti-join; each distinct content of a corpus (sha256 over its rows) gets one `sources` row.
"""
from __future__ import annotations

import hashlib
import json
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from cleann.sources.catalog import SourceSpec, load_documents, load_movielens
from cleann.store.db import connect, insert_frame

DOCUMENT_KEYS = ["corpus", "doc_id"]
INTERACTION_KEYS = ["corpus", "user_id", "item_id", "ts"]
ITEM_KEYS = ["corpus", "item_id"]


@dataclass
class IngestResult:
    """What one ingest did; `already_ingested` means this exact content was seen before."""

    corpus: str
    kind: str
    rows_total: int
    rows_added: int
    rows_skipped: int
    already_ingested: bool
    counts: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        state = "unchanged (already ingested)" if self.already_ingested else "ingested"
        counts = ", ".join(f"{v:,} {k}" for k, v in self.counts.items())
        line = (f"{self.corpus}: {state}; {counts}; {self.rows_added:,} new rows")
        if self.rows_skipped:
            reasons = ", ".join(f"{v} {k}" for k, v in self.skipped.items())
            line += f"; skipped {self.rows_skipped:,} ({reasons})"
            if self.examples:
                line += f", e.g. {', '.join(self.examples[:3])}"
        return line


def content_sha256(*frames: pd.DataFrame) -> str:
    """sha256 over the rows of the frames (order-sensitive, list cells joined)."""
    digest = hashlib.sha256()
    for frame in frames:
        flat = frame.apply(lambda col: col.str.join("|") if _holds_lists(col) else col)
        digest.update(",".join(map(str, flat.columns)).encode())
        digest.update(pd.util.hash_pandas_object(flat, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _holds_lists(col: pd.Series) -> bool:
    """True for a column of lists (items.genres); looks at one value, not every row."""
    if col.dtype != object:
        return False
    values = col.dropna()
    return not values.empty and isinstance(values.iloc[0], (list, tuple))


def ingest_documents(con: duckdb.DuckDBPyConnection, documents: pd.DataFrame) -> IngestResult:
    """Insert a documents frame (one corpus) and record its source, in a transaction of
    its own (call it outside any open transaction)."""
    corpus = _single_corpus(documents)
    counts = {"documents": len(documents)}
    return _ingest(con, corpus, documents.attrs.get("source", {}), counts,
                   [("documents", documents, DOCUMENT_KEYS)], content_sha256(documents))


def ingest_movielens(
    con: duckdb.DuckDBPyConnection, interactions: pd.DataFrame, items: pd.DataFrame
) -> IngestResult:
    """Insert interactions and items (one corpus) and record the source, in one transaction."""
    corpus = _single_corpus(interactions)
    counts = {"ratings": len(interactions), "users": int(interactions["user_id"].nunique()),
              "items": len(items)}
    return _ingest(con, corpus, interactions.attrs.get("source", {}), counts,
                   [("interactions", interactions, INTERACTION_KEYS),
                    ("items", items, ITEM_KEYS)],
                   content_sha256(interactions, items))


def ingest_source(
    db_path: str | Path | None, spec: SourceSpec, artifact_dir: Path | None = None
) -> IngestResult:
    """Load one planned source and write it (opens and closes the database itself)."""
    if spec.dataset == "movielens":
        frames = load_movielens(spec, artifact_dir)
        with closing(connect(db_path)) as con:
            return ingest_movielens(con, *frames)
    documents = load_documents(spec, artifact_dir)
    with closing(connect(db_path)) as con:
        return ingest_documents(con, documents)


def _single_corpus(frame: pd.DataFrame) -> str:
    names = frame["corpus"].unique()
    if len(names) != 1:
        raise ValueError(f"expected one corpus per ingest, got {list(names)}")
    return str(names[0])


def _ingest(con, corpus, info, counts, tables, digest) -> IngestResult:
    skipped = {k: int(v) for k, v in (info.get("skipped") or {}).items()}
    result = IngestResult(
        corpus=corpus, kind=info.get("kind", "unknown"), rows_total=len(tables[0][1]),
        rows_added=0, rows_skipped=sum(skipped.values()), already_ingested=False,
        counts=counts, skipped=skipped, examples=list(info.get("examples") or []))
    con.execute("BEGIN TRANSACTION")
    try:
        seen = con.execute("SELECT count(*) FROM sources WHERE corpus = ? AND content_sha256 = ?",
                           [corpus, digest]).fetchall()[0][0]
        added = {name: insert_frame(con, name, frame, keys) for name, frame, keys in tables}
        result.rows_added = added[tables[0][0]]  # rows of the main table, like rows_total
        result.already_ingested = bool(seen) and not any(added.values())
        if not seen:
            details = {"counts": counts, "added": added, "skipped": skipped,
                       "examples": result.examples}
            con.execute(
                "INSERT INTO sources (corpus, kind, location, version, package_sha256, "
                "content_sha256, rows_total, rows_added, rows_skipped, details) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [corpus, result.kind, info.get("location", ""), info.get("version"),
                 info.get("package_sha256"), digest, result.rows_total, result.rows_added,
                 result.rows_skipped, json.dumps(details)])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return result


def document_summary(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Documents per text corpus with split and label balance."""
    return con.execute("""
        SELECT corpus, count(*) AS documents,
               count(*) FILTER (split = 'train') AS train, count(*) FILTER (split = 'test') AS test,
               count(*) FILTER (label = 1) AS positive, count(*) FILTER (label = 0) AS negative
        FROM documents GROUP BY corpus ORDER BY corpus
    """).df()


def movielens_summary(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Ratings, distinct users and items per MovieLens corpus."""
    return con.execute("""
        SELECT i.corpus, i.ratings, i.users, coalesce(m.items, 0) AS items
        FROM (SELECT corpus, count(*) AS ratings, count(DISTINCT user_id) AS users
              FROM interactions GROUP BY corpus) AS i
        LEFT JOIN (SELECT corpus, count(*) AS items FROM items GROUP BY corpus) AS m
        USING (corpus) ORDER BY i.corpus
    """).df()
