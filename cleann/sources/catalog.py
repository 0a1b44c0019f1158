"""Which loader serves `cleann ingest <dataset> --source <source>`: one table, one function.

Why: the CLI, the Prefect flow and `cleann demo` must agree on what a (dataset, source)
pair means; a small frozen spec is also what Prefect tasks pass around (strings only).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from cleann.errors import BadInputError
from cleann.sources import imdb, movielens, text

TEXT_SOURCES = ("offline", "hf", "aclimdb", "csv", "parquet")
MOVIELENS_SOURCES = ("offline", "ml-1m", "ml-100k")
DATASETS = {"imdb": TEXT_SOURCES, "movielens": MOVIELENS_SOURCES}
OFFLINE_MOVIELENS = "ml-100k"


@dataclass(frozen=True)
class SourceSpec:
    """One corpus to ingest; `artifact` is the pinned artifact to fetch first, if any."""

    dataset: str
    source: str
    corpus: str
    path: str | None = None
    artifact: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    id_column: str | None = None
    split_column: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def plan_sources(
    dataset: str,
    source: str = "offline",
    path: str | None = None,
    corpus_name: str | None = None,
    **columns: str | None,
) -> list[SourceSpec]:
    """The corpora a CLI call means; `imdb --source offline` is all three review corpora
    (or the one named by `corpus_name`)."""
    if dataset not in DATASETS:
        raise BadInputError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    if source not in DATASETS[dataset]:
        raise BadInputError(f"{dataset}: unknown source {source!r}; choose from "
                            f"{', '.join(DATASETS[dataset])}")
    columns = {k: v for k, v in columns.items() if v is not None}
    if source == "offline":
        if dataset == "movielens":
            if corpus_name not in (None, OFFLINE_MOVIELENS):
                raise BadInputError(f"the offline MovieLens corpus is {OFFLINE_MOVIELENS!r}")
            return [SourceSpec("movielens", "offline", OFFLINE_MOVIELENS, artifact="recbole")]
        names = [corpus_name] if corpus_name else list(text.OFFLINE_CORPORA)
        unknown = [n for n in names if n not in text.OFFLINE_CORPORA]
        if unknown:
            raise BadInputError(f"unknown offline corpus {unknown[0]!r}; choose from "
                                f"{', '.join(text.OFFLINE_CORPORA)}")
        return [SourceSpec("imdb", "offline", n, artifact=text.OFFLINE_CORPORA[n].artifact)
                for n in names]
    if source == "hf":
        location = path or imdb.HF_IMDB
        return [SourceSpec("imdb", "hf", corpus_name or "imdb", path=location, **columns)]
    if not path:
        raise BadInputError(f"{dataset} --source {source} needs --path")
    default_name = {"aclimdb": "aclimdb", "ml-1m": "ml-1m", "ml-100k": "ml-100k"}.get(
        source, Path(path).stem)
    return [SourceSpec(dataset, source, corpus_name or default_name, path=path, **columns)]


def load_documents(spec: SourceSpec, artifact_dir: Path | None = None) -> pd.DataFrame:
    """Documents frame for a text spec (`artifact_dir`: the fetched artifact, offline only)."""
    if spec.source == "offline":
        return text.load_offline(spec.corpus, artifact_dir=artifact_dir)
    if spec.source == "hf":
        return imdb.load_hf_imdb(spec.path or imdb.HF_IMDB, corpus=spec.corpus)
    if spec.source == "aclimdb":
        return imdb.load_aclimdb(spec.path, corpus=spec.corpus)
    return text.load_table(spec.path, spec.corpus, text_column=spec.text_column,
                           label_column=spec.label_column, id_column=spec.id_column,
                           split_column=spec.split_column)


def load_movielens(
    spec: SourceSpec, artifact_dir: Path | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(interactions, items) for a MovieLens spec."""
    if spec.source == "offline":
        if artifact_dir is None:
            return movielens.load_offline_ml100k()
        return movielens.load_offline_ml100k(fetch=lambda _name: artifact_dir)
    loader = movielens.load_ml1m if spec.source == "ml-1m" else movielens.load_ml100k
    return loader(spec.path, corpus=spec.corpus)
