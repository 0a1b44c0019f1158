"""Turn raw (native id, text, label) columns into the documents frame every stage reads.

Why one place: cleaning, ids and splits must be identical for every source, or the same
review would get different ids (and explanations would not join) depending on how it was
loaded. Ids and splits come from a fixed-key 64-bit hash (pandas' SipHash), computed
column-wise, so they are stable across runs, machines and row order.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pandas as pd

from cleann.errors import BadInputError, shorten

DOC_COLUMNS = ["corpus", "doc_id", "split", "text", "label", "source"]
TRAIN_PERCENT = 80

_LABEL_WORDS = {
    "1": 1, "pos": 1, "positive": 1, "fresh": 1, "true": 1,
    "0": 0, "-1": 0, "neg": 0, "negative": 0, "rotten": 0, "false": 0,
    "1.0": 1, "0.0": 0, "-1.0": 0,  # CSV cells read as text, numbers written as floats
}
_BR = re.compile(r"<br\s*/?>", flags=re.IGNORECASE)
_WS = re.compile(r"\s+")


def stable_hash(values: pd.Series) -> np.ndarray:
    """uint64 hash of each string, identical on every machine and pandas run."""
    return pd.util.hash_pandas_object(values.astype(str), index=False).to_numpy()


def make_doc_ids(corpus: str, native_ids: pd.Series) -> pd.Series:
    """16-hex-digit ids from the corpus name plus the source's own id for the row."""
    hashes = stable_hash(corpus + "\x1f" + native_ids.astype(str))
    return pd.Series(np.char.mod("%016x", hashes), index=native_ids.index, dtype=object)


def hash_split(doc_ids: pd.Series, train_percent: int = TRAIN_PERCENT) -> pd.Series:
    """'train' for about train_percent% of ids, else 'test'; depends only on the id."""
    in_train = stable_hash("split\x1f" + doc_ids) % 100 < train_percent
    return pd.Series(np.where(in_train, "train", "test"), index=doc_ids.index, dtype=object)


def clean_text(texts: pd.Series) -> pd.Series:
    """Drop IMDB's `<br />` tags, decode HTML entities, collapse whitespace."""
    texts = texts.astype(str).str.replace(_BR, " ", regex=True)
    has_entity = texts.str.contains("&", regex=False)
    if has_entity.any():
        texts = texts.where(~has_entity, texts[has_entity].map(html.unescape))
    return texts.str.replace(_WS, " ", regex=True).str.strip()


def normalize_labels(labels: pd.Series, where: str, first_line: int = 1) -> pd.Series:
    """Map 1/0, 1/-1, pos/neg, positive/negative, fresh/rotten, booleans to 1/0.

    Raises BadInputError naming the first unrecognised value and its line
    (line = `first_line` + the row's index label; pass a 0-based positional index).
    """
    if pd.api.types.is_bool_dtype(labels):
        return labels.astype("int64")
    if pd.api.types.is_float_dtype(labels) and (labels.dropna() % 1 == 0).all():
        labels = labels.astype("Int64")
    keys = labels.astype(str).str.strip().str.lower()
    mapped = keys.map(_LABEL_WORDS)
    bad = mapped.isna()
    if bad.any():
        row = bad.idxmax()
        raise BadInputError(
            f"{where}: line {first_line + int(row)}: label '{shorten(labels[row], 80)}' is "
            "not one of 1/0, 1/-1, pos/neg, positive/negative, fresh/rotten, true/false")
    return mapped.astype("int64")


def build_documents(
    corpus: str,
    native_ids: pd.Series,
    texts: pd.Series,
    labels: pd.Series,
    source: str,
    *,
    where: str,
    splits: pd.Series | None = None,
    first_line: int = 1,
) -> pd.DataFrame:
    """The documents frame (DOC_COLUMNS) with skipped-row counts in `attrs["skipped"]`.

    Rows with an empty text or missing label are skipped and counted; labels that are
    present but unrecognised, and duplicate native ids, are errors naming the line.
    `splits` keeps an upstream train/test split; otherwise the split is hashed from the id.
    """
    native_ids = native_ids.reset_index(drop=True)
    no_id = native_ids.isna()
    if no_id.any():
        raise BadInputError(f"{where}: line {first_line + int(no_id.to_numpy().argmax())}: "
                            "id is missing")
    native_ids = native_ids.astype(str)
    texts = clean_text(texts.reset_index(drop=True).fillna(""))
    labels = labels.reset_index(drop=True)
    dup = native_ids.duplicated(keep=False)
    if dup.any():
        first = native_ids[dup].iloc[0]
        lines = (np.flatnonzero((native_ids == first).to_numpy()) + first_line).tolist()[:5]
        raise BadInputError(f"{where}: duplicate id '{shorten(first, 80)}' on lines {lines}")
    empty = texts.eq("")
    no_label = labels.isna()
    keep = ~(empty | no_label)
    skipped = {"empty text": int(empty.sum()), "missing label": int((no_label & ~empty).sum())}
    ids = make_doc_ids(corpus, native_ids[keep])
    frame = pd.DataFrame({
        "corpus": corpus,
        "doc_id": ids,
        "split": (splits.reset_index(drop=True)[keep].astype(str)
                  if splits is not None else hash_split(ids)),
        "text": texts[keep],
        "label": normalize_labels(labels[keep], where, first_line),
        "source": source,
    }, columns=DOC_COLUMNS).reset_index(drop=True)
    if frame.empty:
        raise BadInputError(f"{where}: no usable rows (all texts empty or labels missing)")
    frame.attrs["skipped"] = {k: v for k, v in skipped.items() if v}
    return frame


def decode_utf8(data: bytes, path: Path | str, encoding: str = "utf-8-sig") -> str:
    """Decode a whole file, turning a decode error into one naming file, line and byte."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadInputError(
            f"{path}: line {line}: bytes are not valid {encoding} ({exc.reason} at byte "
            f"{exc.start}); pass the file's encoding with --encoding (e.g. latin-1)") from None
