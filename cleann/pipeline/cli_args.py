"""Argument definitions shared by `cleann explain`, `cleann serve` and `cleann demo`.

Why one place: the flow's parameters are the same wherever a run is started from, so the
options (and their defaults) are declared once and turned into flow keyword arguments once.
"""
from __future__ import annotations

import argparse

from cleann.pipeline.params import LEARNERS, REMOVALS, RUNNERS, SEARCHES


def add_explain_options(p: argparse.ArgumentParser, with_kind: bool = True) -> None:
    if with_kind:
        p.add_argument("kind", choices=["imdb", "movielens"], help="text corpus (imdb-style) or MovieLens")
    p.add_argument("--corpus-name", help="corpus name in the database (default rt_snippets / ml-100k; offline corpora are ingested on first use)")
    p.add_argument("--split", default="test", help="split to explain (text: train|test|all; MovieLens: test = hold out each user's last item, all)")
    p.add_argument("--limit", type=int, help="explain the first N samples of the split (by id)")
    p.add_argument("--batch-size", type=int, default=8, help="samples per task (default 8)")
    p.add_argument("--heads", default="all", help="all | mean | comma list such as 0,3 (default all)")
    p.add_argument("--nodes", default="all", help="all | words | topk:K (default all)")
    p.add_argument("--learner", choices=LEARNERS, default="icd")
    p.add_argument("--alpha", type=float, default=0.01)
    p.add_argument("--num-samples", type=int, help="N of the Fisher-z test (default: model hidden size)")
    p.add_argument("--removal", choices=REMOVALS, default="pad", help="how the tester removes tokens")
    p.add_argument("--max-set-size", type=int, help="largest explanation size searched")
    p.add_argument("--search", choices=SEARCHES, default="head",
                   help="head: search every head to its own minimal size (the reference); sample: all heads "
                        "size by size together, stop at the first size where any head explains (same per-sample "
                        "best sets, fewer forward passes)")
    p.add_argument("--max-range", type=int, help="PDS-tree radius")
    p.add_argument("--max-cond-size", type=int, help="ICD conditioning-set cap")
    p.add_argument("--max-length", type=int, default=128, help="token limit per text (default 128)")
    p.add_argument("--model", help="checkpoint folder (default: the embedded default model, trained once)")
    p.add_argument("--db", help="DuckDB file (default $CLEANN_DB or ./cleann.duckdb)")
    p.add_argument("--staging-dir", help="staging folder or fsspec URL (default <db>.staging)")
    p.add_argument("--runner", choices=[r for r in RUNNERS if r != "sequential"], default="threads")
    p.add_argument("--dask-address", help="Dask scheduler address (default: a LocalCluster)")
    p.add_argument("--workers", type=int, help="parallel workers (default: CPU cores)")
    p.add_argument("--store-attention", action="store_true",
                   help="also keep each sample's attention as <staging>/<run_id>/attention/<sample_id>.npz")


def flow_kwargs(args: argparse.Namespace, kind: str | None = None) -> dict:
    """The `explain_corpus` keyword arguments for parsed options."""
    return {
        "corpus_kind": kind or args.kind, "corpus_name": args.corpus_name, "split": args.split,
        "limit": args.limit, "batch_size": args.batch_size, "heads": args.heads, "nodes": args.nodes,
        "learner": args.learner, "alpha": args.alpha, "num_samples": args.num_samples,
        "removal": args.removal, "max_set_size": args.max_set_size, "max_range": args.max_range,
        "search": args.search,
        "max_cond_size": args.max_cond_size, "max_length": args.max_length, "model": args.model,
        "db": args.db, "staging_dir": args.staging_dir, "runner": args.runner,
        "dask_address": args.dask_address, "workers": args.workers, "store_attention": args.store_attention,
    }


def run_explain(kwargs: dict, use_prefect: bool = True) -> dict:
    """Run `explain_corpus` through Prefect, or the same steps in-process without it."""
    if use_prefect:
        from cleann.flows.explain import explain_corpus

        return explain_corpus(**kwargs)
    from cleann.pipeline.driver import run_from_kwargs

    def progress(batch_id: str, n: int) -> None:
        print(f"loaded batch {batch_id} ({n} samples)", flush=True)

    return run_from_kwargs(kwargs, on_batch=progress).as_dict()
