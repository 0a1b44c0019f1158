"""Helpers shared by the evaluation tests (imported as ``evalkit``)."""
from __future__ import annotations

import numpy as np

POSITIVE = ["good", "great", "brilliant", "fun", "love"]
NEGATIVE = ["bad", "awful", "boring", "dull", "terrible", "hate"]


def infer_one(model_tok, text: str):
    from cleann.models.sentiment import infer

    model, tok = model_tok
    return infer(model, tok, [text], max_length=64)[0]


def recommend_one(rec, history):
    from cleann.models.bert4rec import recommend

    return recommend(rec, [np.asarray(history)], k=10)[0]


TEXTS = [
    "a good movie with a bad ending", "the plot was boring and awful", "great acting , bad story but fun",
    "this is fun and good", "it was not good", "brilliant and great but dull",
]


def make_text_db(path, texts=TEXTS, corpus: str = "evaltiny"):
    """A DuckDB file with a tiny test-split text corpus (labels by the lexicon rule)."""
    import pandas as pd

    from cleann.store.db import connect, insert_frame

    label = [int(sum(w in t.split() for w in POSITIVE) > sum(w in t.split() for w in NEGATIVE)) for t in texts]
    docs = pd.DataFrame({"corpus": corpus, "doc_id": [f"d{i:02d}" for i in range(len(texts))],
                         "split": "test", "text": texts, "label": label, "source": "test"})
    con = connect(path)
    insert_frame(con, "documents", docs)
    con.close()
    return path


def make_rec_db(path, n_users: int = 4, n_items: int = 40, corpus: str = "ml-evaltiny"):
    """Users with 6..9 interactions over items 1..n_items, plus item titles."""
    import pandas as pd

    from cleann.store.db import connect, insert_frame

    rows = [{"corpus": corpus, "user_id": u, "item_id": (u * 5 + k * 7) % n_items + 1, "rating": 4.0, "ts": k}
            for u in range(1, n_users + 1) for k in range(6 + u)]
    inter = pd.DataFrame(rows).drop_duplicates(["user_id", "item_id"])
    items = pd.DataFrame({"corpus": corpus, "item_id": range(1, n_items + 1),
                          "title": [f"Movie {i}" for i in range(1, n_items + 1)], "year": 1990,
                          "genres": [["Drama"]] * n_items})
    con = connect(path)
    insert_frame(con, "interactions", inter)
    insert_frame(con, "items", items)
    con.close()
    return path
