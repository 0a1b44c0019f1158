"""`cleann model eval sentiment|bert4rec`: held-out metrics, JSON on the last line."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from cleann.cli._checks import check_input_path, positive_int
from cleann.errors import BadInputError
from cleann.pipeline.params import DEFAULT_MAX_LENGTH
from cleann.sources.text import OFFLINE_CORPORA

MAX_LENGTH = 512  # MiniLM / BERT position embeddings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("model", help="inspect and evaluate models")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    ev = sub.add_parser("eval", help="held-out metrics of a model (JSON on the last line)")
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
        p.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.set_defaults(handler=run)


def _table(result: dict) -> str:
    if "per_corpus" in result:
        rows = [f"{c:<20} {v['accuracy']:.4f}  (n={v['n']})"
                for c, v in result["per_corpus"].items()]
        return "\n".join(rows + [f"{'all':<20} {result['accuracy']:.4f}  (n={result['n']})"])
    keys = ["HR@1", "HR@5", "HR@10", "NDCG@5", "NDCG@10", "MRR"]
    rows = [f"{'negatives':<11} {'scorer':<11} " + " ".join(f"{k:>8}" for k in keys)]
    for how, r in result["results"].items():
        for name, m in r.items():
            rows.append(f"{how:<11} {name:<11} " + " ".join(f"{m[k]:>8.4f}" for k in keys))
    return "\n".join(rows)


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
    if not args.json:
        print(_table(result))
    print(json.dumps(result))
    return 0
