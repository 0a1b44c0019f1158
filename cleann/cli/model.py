"""`cleann model eval sentiment|bert4rec [--format table|csv|json]`: held-out metrics.

json prints the whole result (model, split, settings, metrics) as one document; csv one row
per corpus (sentiment) or per negatives x scorer (BERT4Rec); table the same for people.
"""
from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cleann.cli._checks import check_input_path, positive_int
from cleann.cli._output import add_format_option, render
from cleann.errors import BadInputError
from cleann.pipeline.params import DEFAULT_MAX_LENGTH
from cleann.sources.text import OFFLINE_CORPORA

MAX_LENGTH = 512  # MiniLM / BERT position embeddings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("model", help="inspect and evaluate models")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    ev = sub.add_parser("eval", help="held-out metrics of a model (--format table|csv|json)")
    which = ev.add_subparsers(dest="model", metavar="MODEL")
    which.required = True
    sent = which.add_parser("sentiment", help="accuracy per corpus on the test splits")
    sent.add_argument("--model", dest="model_path", default=None,
                      help="checkpoint folder or hub id (default: the trained default)")
    sent.add_argument("--max-length", type=positive_int, default=DEFAULT_MAX_LENGTH,
                      help=f"tokens per text, 3..512 (default {DEFAULT_MAX_LENGTH}, the same as `cleann explain`, "
                           "so the accuracy is that of the decisions explained; 512 scores whole reviews)")
    sent.add_argument("--corpus", action="append", default=None, choices=sorted(OFFLINE_CORPORA),
                      help="offline corpus to score (repeatable; default all three)")
    rec = which.add_parser("bert4rec", help="HR/NDCG/MRR vs a popularity baseline")
    rec.add_argument("--model", dest="model_path", default=None, help="BERT4Rec folder (default: trained default)")
    rec.add_argument("--ml1m", default=None, metavar="PATH", help="evaluate on ml-1m")
    rec.add_argument("--negatives", choices=["popularity", "uniform", "both"], default="both",
                     help="how the 100 negatives are sampled (paper: popularity)")
    rec.add_argument("--seed", type=int, default=0)
    for p in (sent, rec):
        add_format_option(p)
    parser.set_defaults(handler=run)


REC_METRICS = ("HR@1", "HR@5", "HR@10", "NDCG@5", "NDCG@10", "MRR")


def accuracy_rows(model: str, per_corpus: Mapping[str, Mapping[str, Any]],
                  overall: float | None = None) -> list[dict[str, Any]]:
    """One row per corpus plus ``all`` (``overall``, else the n-weighted mean): the csv rows
    of `model eval sentiment` and of `train sentiment`."""
    rows = [{"model": model, "corpus": c, "accuracy": v["accuracy"], "n": v["n"]} for c, v in per_corpus.items()]
    if not rows:
        return []
    total = sum(r["n"] for r in rows)
    if overall is None:
        overall = round(sum(r["accuracy"] * r["n"] for r in rows) / max(total, 1), 4)
    return rows + [{"model": model, "corpus": "all", "accuracy": overall, "n": total}]


def rank_rows(model: str, results: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """One row per negative sampling x scorer (model, popularity) with every metric: the csv
    rows of `model eval bert4rec` and of `train bert4rec`."""
    return [{"model": model, "negatives": how, "scorer": name, **metrics}
            for how, by_scorer in results.items() for name, metrics in by_scorer.items()]


def metrics_table(rows: list[dict[str, Any]]) -> str:
    """The rows of :func:`accuracy_rows` or :func:`rank_rows` aligned for people (no model column)."""
    if not rows:
        return "(no held-out metrics)"
    if "corpus" in rows[0]:
        return "\n".join(f"{r['corpus']:<20} {r['accuracy']:.4f}  (n={r['n']})" for r in rows)
    lines = [f"{'negatives':<11} {'scorer':<11} " + " ".join(f"{k:>8}" for k in REC_METRICS)]
    lines += [f"{r['negatives']:<11} {r['scorer']:<11} " + " ".join(f"{r[k]:>8.4f}" for k in REC_METRICS)
              for r in rows]
    return "\n".join(lines)


def check_args(args: argparse.Namespace) -> None:
    """Refuse bad paths and numbers before a model or corpus is loaded (one line, exit 2)."""
    if args.model == "sentiment":
        if not 3 <= args.max_length <= MAX_LENGTH:
            raise BadInputError(f"--max-length {args.max_length}: must be 3..{MAX_LENGTH}")
        if args.model_path:
            check_model_path(args.model_path, ("config.json",))
        return
    if args.model_path:
        check_model_path(args.model_path, ("bert4rec.json",))
    if args.ml1m:
        from cleann.sources.movielens import check_members

        check_members(Path(args.ml1m).expanduser(), ("ratings.dat", "movies.dat"))


def check_model_path(path: str, required: tuple[str, ...]) -> None:
    """A local checkpoint folder holding ``required`` (a hub id is left to the loader,
    which refuses it in offline mode)."""
    local = Path(path).expanduser()
    parts = path.split("/")
    hub_id = len(parts) <= 2 and all(parts) and not path.startswith((".", "~"))
    if not local.exists() and hub_id:
        if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
            raise BadInputError(f"--model {path}: no such folder, and HF_HUB_OFFLINE is set so "
                                "the hub is not asked")
        return
    check_input_path(local, "--model", kind="dir")
    missing = [name for name in required if not (local / name).is_file()]
    if missing:
        raise BadInputError(f"--model {local}: not a checkpoint folder (no {missing[0]})")


def run(args: argparse.Namespace) -> int:
    check_args(args)
    from cleann.models.evaluation import eval_bert4rec, eval_sentiment

    if args.model == "sentiment":
        result = eval_sentiment(args.model_path, corpora=args.corpus,
                                max_length=args.max_length)
    else:
        negatives = ("popularity", "uniform") if args.negatives == "both" else (args.negatives,)
        result = eval_bert4rec(args.model_path, args.ml1m, negatives, seed=args.seed)
    if args.model == "sentiment":
        rows = accuracy_rows(result["model"], result["per_corpus"], result["accuracy"])
    else:
        rows = rank_rows(result["model"], result["results"])
    print(render(args.format, rows, document=result, table=lambda: metrics_table(rows)))
    return 0
