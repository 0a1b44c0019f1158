"""Held-out accuracy of a sentiment classifier on labelled texts (no attention capture).

Why: evaluation only needs predictions; skipping attention capture and sorting texts by
length (dynamic padding) makes scoring the 512-token full reviews affordable on a CPU.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from cleann.models.sentiment import effective_max_length


def predict(model, tokenizer, texts: Sequence[str], max_length: int = 512,
            batch_size: int = 16) -> np.ndarray:
    """Predicted class per text (truncated to ``max_length`` tokens), in input order."""
    length = effective_max_length(model, tokenizer, max_length)
    sizes = np.array([len(t) for t in texts])
    order = np.argsort(-sizes, kind="stable")
    preds = np.zeros(len(texts), dtype=np.int64)
    model.eval()
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        enc = tokenizer([texts[i] for i in idx], truncation=True, max_length=length,
                        padding=True, return_tensors="pt")
        with torch.no_grad():
            preds[idx] = model(**enc).logits.argmax(dim=-1).numpy()
    return preds


def accuracy_by_corpus(model, tokenizer, frame: pd.DataFrame, max_length: int = 512,
                       batch_size: int = 16) -> dict[str, dict[str, float]]:
    """``{corpus: {"accuracy", "n"}}`` over the rows of ``frame`` (corpus, text, label)."""
    out: dict[str, dict[str, float]] = {}
    for corpus, part in frame.groupby("corpus", sort=True):
        pred = predict(model, tokenizer, part["text"].tolist(), max_length, batch_size)
        out[str(corpus)] = {"accuracy": float((pred == part["label"].to_numpy()).mean()),
                            "n": int(len(part))}
    return out
