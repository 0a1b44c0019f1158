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
