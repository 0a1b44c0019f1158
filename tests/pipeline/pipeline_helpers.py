"""Tiny corpora and row snapshots shared by the pipeline tests."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

POSITIVE = ["good", "great", "fun", "brilliant"]
NEGATIVE = ["bad", "awful", "boring", "dull"]
TEXTS = [
    "a good movie", "a bad film but fun", "the plot was boring and awful",
    "great acting , bad story", "this is fun", "it was not good", "the actor was awful",
    "brilliant and great", "a dull story", "very good , very fun",
]


def documents(texts: list[str], corpus: str = "tiny") -> pd.DataFrame:
    return pd.DataFrame({
        "corpus": corpus, "doc_id": [f"d{i:02d}" for i in range(len(texts))], "split": "test",
        "text": texts, "label": [int(sum(w in t for w in POSITIVE) > sum(w in t for w in NEGATIVE)) for t in texts],
        "source": "test",
    })


def make_text_db(path: Path, texts: list[str] = TEXTS, corpus: str = "tiny") -> Path:
    from cleann.store.db import connect, insert_frame

    con = connect(path)
    insert_frame(con, "documents", documents(texts, corpus))
    con.close()
    return path


def make_rec_db(path: Path, n_users: int = 4, corpus: str = "ml-tiny") -> Path:
    """Users with 4..7 interactions over items 1..20; items with titles and genres."""
    from cleann.store.db import connect, insert_frame

    rows = []
    for u in range(1, n_users + 1):
        for k in range(3 + u):
            rows.append({"corpus": corpus, "user_id": u, "item_id": (u * 3 + k * 7) % 20 + 1, "rating": 4.0, "ts": k})
    inter = pd.DataFrame(rows).drop_duplicates(["user_id", "item_id"])
    items = pd.DataFrame({"corpus": corpus, "item_id": range(1, 21), "title": [f"Movie {i}" for i in range(1, 21)],
                          "year": 1990, "genres": [["Drama"] if i % 2 else ["Comedy", "Drama"] for i in range(1, 21)]})
    con = connect(path)
    insert_frame(con, "interactions", inter)
    insert_frame(con, "items", items)
    con.close()
    return path


def _rounded(value):
    """Floats to 5 decimals: a batch of other lengths pads differently, and padded batched
    matmuls may differ from unpadded ones in the last float bits (seen: 8e-7 on a
    probability), which is not a pipeline difference."""
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, (list, tuple)):
        return type(value)(_rounded(v) for v in value)
    return value


def table_rows(db: Path, run_id: str) -> dict[str, list[tuple]]:
    """Every pipeline row of a run, without timings and batch names (they differ per run),
    floats rounded (see ``_rounded``)."""
    from cleann.store.db import connect

    drop = {"samples": {"seconds", "stage_seconds", "batch_id"},
            "explain_heads": {"graph_s", "search_s", "tester_s"}}
    out = {}
    con = connect(db, read_only=True)
    try:
        for table in ("samples", "tokens", "graph_edges", "explanations", "explain_heads"):
            cols = [c for c in con.execute(f"SELECT * FROM {table} LIMIT 0").df().columns if c not in drop.get(table, set())]
            rows = con.execute(f"SELECT {', '.join(cols)} FROM {table} WHERE run_id = ? ORDER BY ALL",
                               [run_id]).fetchall()
            out[table] = [_rounded(row) for row in rows]
    finally:
        con.close()
    return out

