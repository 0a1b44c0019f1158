"""Held-out accuracy of a sentiment classifier on labelled texts (no attention capture).

Why: evaluation only needs predictions; skipping attention capture and sorting texts by
length (dynamic padding, token-budget batches) makes scoring the full reviews
affordable on a CPU. Long texts are either truncated to ``max_length`` tokens (any
checkpoint) or, when the model card asks for it (``long_text={"mode": "chunks"}``, the
embedded default), classified by the mean logits of consecutive chunks covering the
whole text, which is how the default model was trained on full reviews.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from cleann.models.sentiment import effective_max_length


def chunk_windows(tokenizer, ids: Sequence[int], size: int) -> list[list[int]]:
    """Consecutive ``size``-token windows (with [CLS]/[SEP]) covering all of ``ids``.

    ``ids`` are token ids without special tokens. The last window is right-aligned so
    every window is full (it may overlap the one before). Training (``finetune``) cuts
    its review chunks with this too, so a model is scored on the windows it learnt from.
    """
    body = size - 2
    ids = list(ids)
    if len(ids) <= body:
        starts = [0]
    else:
        starts = list(range(0, len(ids) - body + 1, body))
        if starts[-1] != len(ids) - body:
            starts.append(len(ids) - body)
    return [[tokenizer.cls_token_id, *ids[s:s + body], tokenizer.sep_token_id] for s in starts]


def _units(tokenizer, texts: Sequence[str], length: int,
           long_text: dict | None) -> tuple[list[list[int]], np.ndarray]:
    """Token-id sequences to run and, per sequence, the index of its text."""
    if long_text and long_text.get("mode") == "chunks":
        size = min(int(long_text.get("chunk_length", 128)), length)
        body = tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        units, owner = [], []
        for i, ids in enumerate(body):
            for window in chunk_windows(tokenizer, ids, size):
                units.append(window)
                owner.append(i)
        return units, np.array(owner, dtype=np.int64)
    ids = tokenizer(list(texts), truncation=True, max_length=length, verbose=False)["input_ids"]
    return [list(x) for x in ids], np.arange(len(ids), dtype=np.int64)


def predict(model, tokenizer, texts: Sequence[str], max_length: int = 512,
            batch_size: int = 16, long_text: dict | None = None,
            max_tokens: int = 8192, progress=None) -> np.ndarray:
    """Predicted class per text, in input order.

    Texts are truncated to ``max_length`` tokens unless ``long_text`` is
    ``{"mode": "chunks", "chunk_length": N}``: then every text is split into N-token
    chunks covering it (one chunk for short texts) and the chunks' logits are averaged.
    Batches hold ``batch_size`` sequences, or more while under ``max_tokens`` padded
    tokens (at most 256).
    """
    length = effective_max_length(model, tokenizer, max_length)
    units, owner = _units(tokenizer, texts, length, long_text)
    order = np.argsort([-len(u) for u in units], kind="stable")
    n_classes = int(model.config.num_labels)
    sums = np.zeros((len(texts), n_classes), dtype=np.float64)
    pad = tokenizer.pad_token_id
    model.eval()
    start = 0
    while start < len(order):
        width = len(units[order[start]])
        count = min(256, max(batch_size, max_tokens // max(width, 1)))
        idx = order[start:start + count]
        input_ids = torch.full((len(idx), width), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            input_ids[row, :len(units[i])] = torch.tensor(units[i])
            mask[row, :len(units[i])] = 1
        with torch.inference_mode():
            logits = model(input_ids=input_ids, attention_mask=mask,
                           token_type_ids=torch.zeros_like(input_ids)).logits.float().numpy()
        np.add.at(sums, owner[idx], logits)
        if progress is not None:
            progress(len(idx))
        start += len(idx)
    return sums.argmax(axis=1).astype(np.int64)


def accuracy_by_corpus(model, tokenizer, frame: pd.DataFrame, max_length: int = 512,
                       batch_size: int = 16, long_text: dict | None = None,
                       desc: str | None = None) -> dict[str, dict[str, float]]:
    """``{corpus: {"accuracy", "n"}}`` over the rows of ``frame`` (corpus, text, label)."""
    from tqdm.auto import tqdm

    out: dict[str, dict[str, float]] = {}
    for corpus, part in frame.groupby("corpus", sort=True):
        texts = part["text"].tolist()
        with tqdm(desc=f"{desc or 'accuracy'}: {corpus}", unit="seq", disable=None,
                  leave=False, dynamic_ncols=True) as bar:
            pred = predict(model, tokenizer, texts, max_length, batch_size, long_text,
                           progress=bar.update)
        out[str(corpus)] = {"accuracy": float((pred == part["label"].to_numpy()).mean()),
                            "n": int(len(part))}
    return out
