"""`cleann demo`: the README's main job, end to end on the embedded offline default.

Fetch the pinned corpora and ingest them, train the default models once (reused after),
explain a default-sized slice of the review snippets and of the ml-100k users through the
`explain_corpus` flow, then print the top lines of the main queries and a one-screen
summary. Re-running resumes: finished samples are skipped, so a second demo is quick.
"""
from __future__ import annotations

import argparse
import sys
import time

MAIN_QUERIES = {
    "sentiment": [("causal_tokens", {"top": 5, "min_support": 1}), ("causal_not_attended", {"top": 5, "min_causal": 1}),
                  ("head_agreement", {})],
    "rec": [("rec_causal_movies", {"top": 5, "min_support": 2}), ("rec_causal_genres", {"min_support": 2}),
            ("replacement_rank", {})],
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the whole default job: ingest, train once, explain, query",
        description="Ingest the offline corpora, train (or reuse) the default models, explain a slice of the "
                    "review snippets and of the ml-100k users, print the main queries and a summary.")
    parser.add_argument("--db", default=None, help="database file (default ./cleann.duckdb or $CLEANN_DB)")
    parser.add_argument("--reviews", type=int, default=20, help="review snippets to explain (default 20)")
    parser.add_argument("--users", type=int, default=50, help="ml-100k users to explain (default 50)")
    parser.add_argument("--heads", default="all", help="all | mean | comma list (default all)")
    parser.add_argument("--max-set-size", type=int, default=2,
                        help="largest explanation searched (default 2: bounds the tester's forward passes)")
    parser.add_argument("--text-nodes", default="topk:12",
                        help="node selection for reviews (default topk:12: the 12 tokens [CLS] attends to most)")
    parser.add_argument("--rec-nodes", default="topk:16",
                        help="node selection for MovieLens histories (default topk:16; histories reach 200 items)")
    parser.add_argument("--runner", choices=["threads", "processes", "dask"], default="threads")
    parser.add_argument("--no-prefect", action="store_true", help="run the explain steps without Prefect")
    parser.set_defaults(handler=run)


def ingest_defaults(db: str | None) -> None:
    """Ingest the offline corpora through the flow and print what happened and the counts."""
    from contextlib import closing

    from cleann.cli.ingest import print_results
    from cleann.flows.ingest import ingest_offline_defaults
    from cleann.store.db import connect
    from cleann.store.ingest import document_summary, movielens_summary

    print_results(ingest_offline_defaults(db))
    with closing(connect(db, read_only=True)) as con:
        documents, movielens = document_summary(con), movielens_summary(con)
    print("\ndocuments:")
    print(documents.to_string(index=False))
    print("\nmovielens:")
    print(movielens.to_string(index=False))


def _step(text: str) -> None:
    print(f"\n== {text}", file=sys.stderr, flush=True)


def _show_queries(db: str | None, kind: str, run_id: str) -> None:
    from cleann.pipeline.queries import run_query
    from cleann.pipeline.report import format_frame

    for name, params in MAIN_QUERIES[kind]:
        print(f"\n-- cleann query {name} --run {run_id}")
        print(format_frame(run_query(name, db, run_id, params), max_rows=10))


def run(args: argparse.Namespace) -> int:
    from cleann.pipeline.cli_args import run_explain
    from cleann.pipeline.report import summary_lines

    started = time.perf_counter()
    db = None if args.db is None else str(args.db)
    _step("1/4 fetch and ingest the offline corpora (Prefect flow ingest_offline_defaults)")
    ingest_defaults(db)

    _step("2/4 default models (trained once into the cache, then reused)")
    from cleann.models.default import ensure_default_bert4rec, ensure_default_sentiment

    models = {"imdb": str(ensure_default_sentiment()), "movielens": str(ensure_default_bert4rec())}
    print(f"sentiment model: {models['imdb']}\nBERT4Rec model:  {models['movielens']}")

    summaries = {}
    for kind, limit in (("imdb", args.reviews), ("movielens", args.users)):
        _step(f"3/4 explain {limit} {'review snippets' if kind == 'imdb' else 'ml-100k users'} (heads={args.heads})")
        summaries[kind] = run_explain({
            "corpus_kind": kind, "limit": limit, "batch_size": 4, "heads": args.heads, "model": models[kind],
            "db": db, "runner": args.runner, "max_set_size": args.max_set_size,
            "nodes": args.text_nodes if kind == "imdb" else args.rec_nodes,
        }, use_prefect=not args.no_prefect)
        print("\n".join(summary_lines(summaries[kind])))

    _step("4/4 main queries")
    _show_queries(db, "sentiment", summaries["imdb"]["run_id"])
    _show_queries(db, "rec", summaries["movielens"]["run_id"])

    print("\n" + "=" * 72)
    print(f"cleann demo finished in {time.perf_counter() - started:.0f} s; database: {db or 'cleann.duckdb'}")
    for kind, s in summaries.items():
        label = "reviews " if kind == "imdb" else "ml-100k "
        print(f"  {label} run {s['run_id']}: {s['done']} ok, {s['failed']} failed, status {s['status']}")
    print("next: cleann query --list | cleann query NAME --run RUN_ID [--format csv|json]")
    print("      cleann explain imdb --limit 500   (resumes and extends the same run)")
    return 0
