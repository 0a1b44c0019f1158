"""Flow `ingest`: fetch what a source needs, then load each corpus into DuckDB.

Why a flow: fetching goes over the network and is retried per artifact; each corpus is
its own task so the Prefect UI shows which one failed and why. Corpora are written one
after another from this process: DuckDB allows one writer.
"""
from __future__ import annotations

import sys

from prefect import flow, get_run_logger

from cleann.sources.catalog import SourceSpec, plan_sources
from cleann.tasks.ingest import fetch_artifact, ingest_source_task


def progress(message: str) -> None:
    """One progress line on stderr (Prefect's own logs are quiet by default)."""
    print(f"[ingest] {message}", file=sys.stderr, flush=True)


def run_specs(specs: list[SourceSpec], db_path: str | None) -> list[dict]:
    """Fetch each distinct artifact once, then ingest every spec in order."""
    logger = get_run_logger()
    folders = {}
    for name in dict.fromkeys(s.artifact for s in specs if s.artifact):
        progress(f"fetching pinned artifact {name!r} (cached after the first time)")
        folders[name] = fetch_artifact(name)
    results = []
    for spec in specs:
        progress(f"loading {spec.corpus} ({spec.dataset}, source {spec.source})")
        result = ingest_source_task(db_path, spec.to_dict(), folders.get(spec.artifact))
        logger.info("%s: %s new rows of %s", spec.corpus, result["rows_added"],
                    result["rows_total"])
        results.append(result)
    return results


@flow(name="ingest", log_prints=False)
def ingest(
    dataset: str,
    source: str = "offline",
    path: str | None = None,
    corpus_name: str | None = None,
    db_path: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    id_column: str | None = None,
    split_column: str | None = None,
    encoding: str | None = None,
) -> list[dict]:
    """Ingest `dataset` (imdb | movielens) from `source`; returns one summary per corpus."""
    specs = plan_sources(dataset, source, path, corpus_name,
                         text_column=text_column, label_column=label_column,
                         id_column=id_column, split_column=split_column, encoding=encoding)
    return run_specs(specs, db_path)


@flow(name="ingest_offline_defaults", log_prints=False)
def ingest_offline_defaults(db_path: str | None = None) -> list[dict]:
    """The embedded default: the three offline review corpora and offline ml-100k."""
    specs = plan_sources("imdb", "offline") + plan_sources("movielens", "offline")
    return run_specs(specs, db_path)
