"""Which loader serves `cleann ingest <dataset> --source <source>`: one table, one function.

Why: the CLI, the Prefect flow and `cleann demo` must agree on what a (dataset, source)
pair means; a small frozen spec is also what Prefect tasks pass around (strings only).
`ingest_source` is the ingest task's one step: load a planned source, then write it
(`store.db.ingest_documents` / `ingest_movielens`).
"""
from __future__ import annotations

from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from cleann.errors import BadInputError, shorten
from cleann.sources import imdb, movielens, text

if TYPE_CHECKING:
    from cleann.store.db import IngestResult

TEXT_SOURCES = ("offline", "hf", "aclimdb", "csv", "parquet")
MOVIELENS_SOURCES = ("offline", "ml-1m", "ml-100k")
DATASETS = {"imdb": TEXT_SOURCES, "movielens": MOVIELENS_SOURCES}
OFFLINE_MOVIELENS = "ml-100k"
HF_ENDPOINT = "https://huggingface.co"  # huggingface_hub's default; $HF_ENDPOINT overrides it


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
    encoding: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


TABLE_OPTIONS = ("text_column", "label_column", "id_column", "split_column", "encoding")


def plan_sources(
    dataset: str,
    source: str = "offline",
    path: str | None = None,
    corpus_name: str | None = None,
    **options: str | None,
) -> list[SourceSpec]:
    """The corpora a CLI call means; `imdb --source offline` is all three review corpora
    (or the one named by `corpus_name`). `options` are the csv/parquet settings
    (TABLE_OPTIONS); given for any other source they are refused, not ignored."""
    if dataset not in DATASETS:
        raise BadInputError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    if source not in DATASETS[dataset]:
        raise BadInputError(f"{dataset}: unknown source {source!r}; choose from "
                            f"{', '.join(DATASETS[dataset])}")
    unknown = sorted(set(options) - set(TABLE_OPTIONS))
    if unknown:
        raise TypeError(f"plan_sources: unknown options {unknown}")
    options = {k: v for k, v in options.items() if v is not None}
    if corpus_name is not None:
        check_corpus_name(corpus_name)
    if options and source not in TABLE_SOURCES:
        flags = ", ".join("--" + k.replace("_", "-") for k in options)
        raise BadInputError(f"{flags}: only for --source csv or parquet, not {source!r}")
    if options.get("encoding") is not None:
        if source != "csv":
            raise BadInputError("--encoding: only for --source csv (Parquet stores UTF-8)")
        text.check_encoding(options["encoding"])
    for key in ("text_column", "label_column", "id_column", "split_column"):
        if key in options and not str(options[key]).strip():
            raise BadInputError(f"--{key.replace('_', '-')}: empty column name")
    if source == "offline":
        if path is not None:
            raise BadInputError("--path: not used with --source offline (the pinned corpora)")
        if dataset == "movielens":
            if corpus_name not in (None, OFFLINE_MOVIELENS):
                raise BadInputError(f"the offline MovieLens corpus is {OFFLINE_MOVIELENS!r}")
            return [SourceSpec("movielens", "offline", OFFLINE_MOVIELENS, artifact="recbole")]
        names = [corpus_name] if corpus_name else list(text.OFFLINE_CORPORA)
        unknown = [n for n in names if n not in text.OFFLINE_CORPORA]
        if unknown:
            raise BadInputError(f"unknown offline corpus {shorten(unknown[0], 80)!r}; choose "
                                f"from {', '.join(text.OFFLINE_CORPORA)}")
        return [SourceSpec("imdb", "offline", n, artifact=text.OFFLINE_CORPORA[n].artifact)
                for n in names]
    if source == "hf":
        location = path or imdb.HF_IMDB
        return [SourceSpec("imdb", "hf", corpus_name or "imdb", path=location)]
    if not path:
        raise BadInputError(f"{dataset} --source {source} needs --path")
    default_name = {"aclimdb": "aclimdb", "ml-1m": "ml-1m", "ml-100k": "ml-100k"}.get(
        source, Path(path).stem)
    return [SourceSpec(dataset, source, corpus_name or default_name, path=path, **options)]


TABLE_SOURCES = ("csv", "parquet")
CORPUS_NAME_MAX = 100


def check_corpus_name(name: str) -> None:
    """A corpus name is a short printable label (it is a key in every table)."""
    if not name.strip():
        raise BadInputError("--corpus-name: empty name")
    if len(name) > CORPUS_NAME_MAX:
        raise BadInputError(f"--corpus-name: {len(name):,} characters; at most "
                            f"{CORPUS_NAME_MAX}")
    if not name.isprintable():
        raise BadInputError(f"--corpus-name {shorten(name, 80)!r}: control characters are "
                            "not allowed")


def check_source(spec: SourceSpec) -> None:
    """Cheap checks of what a spec points at, before any flow starts: the path is the
    right kind (file, folder, zip), a CSV decodes and has the columns, a Parquet file's
    schema has them with text-typed texts, a zip holds the members, the hub is not asked
    for while offline. Row-level problems (a bad label on line 9,000) are found by the
    loader inside the flow and reach the user as the same one-line error."""
    if spec.source == "offline":
        return
    if spec.source == "hf":
        _check_hf(spec.path or imdb.HF_IMDB)
    elif spec.source == "aclimdb":
        imdb.check_aclimdb_folder(Path(spec.path))
    elif spec.source in TABLE_SOURCES:
        _check_table(spec)
    else:
        members = (("ratings.dat", "movies.dat") if spec.source == "ml-1m"
                   else ("u.data", "u.item"))
        movielens.check_members(Path(spec.path), members)
        movielens.check_rating_lines(Path(spec.path), spec.source)


def _check_table(spec: SourceSpec) -> None:
    path = Path(spec.path)
    kind = text.table_kind(path, spec.source)
    wanted = [c for c in (spec.text_column, spec.label_column, spec.id_column,
                          spec.split_column) if c]
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            schema = pq.read_schema(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types
            raise BadInputError(f"{path}: not a readable Parquet file ({shorten(exc)})") from None
        text.require_columns(list(schema.names), wanted, path)
        kind_of_text = schema.field(spec.text_column).type
        if not (pa.types.is_string(kind_of_text) or pa.types.is_large_string(kind_of_text)
                or pa.types.is_null(kind_of_text)):
            raise BadInputError(f"{path}: text column {spec.text_column!r} holds "
                                f"{kind_of_text} values, not texts")
        return
    encoding = text.check_encoding(spec.encoding or "utf-8-sig")
    decoded = text.decode_utf8(path.read_bytes(), path, encoding)
    if not decoded.strip():
        raise BadInputError(f"{path}: file is empty")
    import csv
    import io

    try:
        header = next(csv.reader(io.StringIO(decoded)))
    except (csv.Error, StopIteration) as exc:
        raise BadInputError(f"{path}: not a readable CSV header ({shorten(exc)})") from None
    text.require_columns([h.strip() for h in header], wanted, path)


def _check_hf(location: str) -> None:
    import os

    path = Path(location)
    if path.exists():
        if path.is_dir() or path.suffix.lower() == ".parquet":
            return
        raise BadInputError(f"{path}: not a saved dataset folder or Parquet file")
    looks_local = (location.startswith((".", "/", "~")) or location.endswith(".parquet")
                   or location.count("/") > 1 or os.sep != "/" and os.sep in location)
    if looks_local:
        raise BadInputError(f"{location}: not found")
    offline = [k for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
               if os.environ.get(k, "").strip().lower() in {"1", "true", "yes", "on"}]
    if offline:
        raise BadInputError(f"{shorten(location, 80)}: {offline[0]} is set, so the hub is not "
                            "asked; pass a local dataset with --path")
    from cleann.reach import http_problem

    endpoint = os.environ.get("HF_ENDPOINT", "").strip() or HF_ENDPOINT
    problem = http_problem(endpoint)  # no network: one line now, not retries and tracebacks later
    if problem:
        raise BadInputError(f"{shorten(location, 80)}: the dataset hub {shorten(endpoint, 80)} cannot be "
                            f"reached ({shorten(problem, 120)}); check the network, or pass a local "
                            "dataset with --path")


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
                           split_column=spec.split_column,
                           encoding=spec.encoding or "utf-8-sig", kind=spec.source)


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


def ingest_source(db_path: str | Path | None, spec: SourceSpec,
                  artifact_dir: Path | None = None) -> IngestResult:
    """Load one planned source and write it (opens and closes the database itself)."""
    from cleann.store.db import connect, ingest_documents, ingest_movielens

    if spec.dataset == "movielens":
        frames = load_movielens(spec, artifact_dir)
        with closing(connect(db_path)) as con:
            return ingest_movielens(con, *frames)
    documents = load_documents(spec, artifact_dir)
    with closing(connect(db_path)) as con:
        return ingest_documents(con, documents)
