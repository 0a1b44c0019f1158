"""`cleann ingest imdb|movielens`: load a corpus into the database through the ingest flow."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cleann.cli._output import add_format_option
from cleann.config import cleann_home
from cleann.sources.catalog import DATASETS


def prepare_prefect_home() -> None:
    """Create $PREFECT_HOME with its parents before prefect is imported: Prefect creates
    only the last folder, and on a fresh machine $CLEANN_HOME does not exist yet (its
    temporary API server then fails to start)."""
    Path(os.environ.get("PREFECT_HOME", cleann_home() / "prefect")).mkdir(parents=True,
                                                                          exist_ok=True)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ingest", help="load a review or MovieLens corpus into the database",
        description="Ingest a corpus (idempotent: re-ingesting the same data adds nothing). "
                    "imdb sources: offline (the three pinned review corpora), hf "
                    "(stanfordnlp/imdb or a saved dataset / Parquet via --path), aclimdb "
                    "(folder), csv, parquet. movielens sources: offline (pinned ml-100k), "
                    "ml-1m, ml-100k (zip or folder via --path).")
    parser.add_argument("dataset", choices=sorted(DATASETS))
    parser.add_argument("--source", default="offline",
                        choices=sorted({s for v in DATASETS.values() for s in v}))
    parser.add_argument("--path", default=None, help="file, folder, zip or hub id of the source")
    parser.add_argument("--corpus-name", default=None,
                        help="corpus name in the database (offline: pick one offline corpus)")
    parser.add_argument("--text-column", default=None, help="csv/parquet text column (default text)")
    parser.add_argument("--label-column", default=None, help="csv/parquet label column (default label)")
    parser.add_argument("--id-column", default=None,
                        help="csv/parquet column with each row's own id (default: the text and "
                             "its occurrence number)")
    parser.add_argument("--split-column", default=None,
                        help="csv/parquet column with train/test (default: a column named "
                             "'split' when there is one, else a hash of the id)")
    parser.add_argument("--encoding", default=None,
                        help="csv text encoding (default utf-8, with or without BOM)")
    parser.add_argument("--db", default=None, help="database file (default ./cleann.duckdb or $CLEANN_DB)")
    add_format_option(parser)
    parser.set_defaults(handler=run)


def print_results(results: list[dict], fmt: str = "table") -> None:
    """One line per ingested corpus (table), or its counts as a CSV row / JSON object."""
    from cleann.cli._output import render
    from cleann.store.db import IngestResult

    print(render(fmt, results, table=lambda: "\n".join(IngestResult(**r).summary() for r in results)))


def run(args: argparse.Namespace) -> int:
    from cleann.cli._checks import check_db_writable
    from cleann.config import default_db_path
    from cleann.sources.catalog import check_source, plan_sources

    options = {k: getattr(args, k) for k in ("text_column", "label_column", "id_column",
                                             "split_column", "encoding")}
    # Everything a user can get wrong is checked here, before Prefect starts (~12 s).
    specs = plan_sources(args.dataset, args.source, args.path, args.corpus_name, **options)
    for spec in specs:
        check_source(spec)
    check_db_writable(args.db or default_db_path())
    prepare_prefect_home()
    from cleann.flows.ingest import ingest

    print(f"ingesting {args.dataset} from {args.source} (Prefect flow `ingest`; a local "
          "Prefect API starts first, ~15 s)...", file=sys.stderr, flush=True)
    results = ingest(args.dataset, args.source, args.path, args.corpus_name,
                     None if args.db is None else str(args.db), **options)
    print_results(results, args.format)
    return 0
