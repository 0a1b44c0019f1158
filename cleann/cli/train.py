"""`cleann train sentiment|bert4rec [--format table|csv|json]`: build the embedded default models
(Prefect flows). json prints the flow's whole summary (path, held-out metrics, seconds, sha256);
csv the held-out metric rows of `cleann model eval`, each with the model path."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cleann.cli._checks import positive_float, positive_int
from cleann.cli._output import add_format_option, render


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train the embedded default models (once; cached)",
        description="Fine-tune MiniLM into the default sentiment classifier, or train "
                    "BERT4Rec on MovieLens, into $CLEANN_HOME/models. Later runs reuse the "
                    "cached model; --force retrains.")
    sub = parser.add_subparsers(dest="model", metavar="MODEL")
    sub.required = True
    sent = sub.add_parser("sentiment", help="fine-tune MiniLM on the offline review corpora")
    sent.add_argument("--max-minutes", type=positive_float, default=None,
                      help="wall-clock guard (default 240): training aborts past it and saves nothing; "
                           "the schedule and the model never depend on it")
    rec = sub.add_parser("bert4rec", help="train BERT4Rec on ml-100k (or ml-1m with --ml1m)")
    rec.add_argument("--ml1m", default=None, metavar="PATH",
                     help="GroupLens ml-1m.zip or folder (default: offline ml-100k)")
    rec.add_argument("--max-minutes", type=positive_float, default=None,
                     help="wall-clock guard (default 240): training aborts past it and saves nothing")
    rec.add_argument("--epochs", type=positive_int, default=None,
                     help="epochs of the fixed schedule (default 30; the lr schedule stretches over them; the best validation epoch is kept)")
    for p in (sent, rec):
        p.add_argument("--force", action="store_true", help="retrain even if cached")
        add_format_option(p)
    parser.set_defaults(handler=run)


def summary_rows(model: str, result: dict[str, Any]) -> list[dict[str, Any]]:
    """The held-out metric rows of a training summary (the same columns as `cleann model eval`)."""
    from cleann.cli.model import accuracy_rows, rank_rows

    if model == "sentiment":
        return accuracy_rows(result["path"], result.get("accuracy") or {})
    return rank_rows(result["path"], result.get("test") or {})


def summary_table(model: str, result: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """Where the model is, how long it trained, and its held-out metrics, for people."""
    from cleann.cli.model import metrics_table

    how = (f"{result.get('steps')} steps, schedule v{result.get('schedule_version')}" if model == "sentiment"
           else f"best epoch {result.get('best_epoch')}")
    return "\n".join([f"model: {result['path']}", f"trained in {result['train_seconds']} s ({how})",
                      "held-out test:", metrics_table(rows)])


def check_cached_schedule(args: argparse.Namespace) -> None:
    """`train bert4rec --epochs N` without --force while the cache holds a model of the
    current schedule trained with another number of epochs: the flow would return that
    model unchanged, so the request is refused with what to do instead (issue 22).
    Without --epochs the cached model is what was asked for (the command's contract)."""
    if args.model != "bert4rec" or args.force or args.epochs is None:
        return
    import json

    from cleann.errors import BadInputError
    from cleann.models import default
    from cleann.models.bert4rec_train import SCHEDULE_VERSION

    folder = default.default_bert4rec_dir("ml-1m" if args.ml1m else "ml-100k")
    if default.schedule_version(folder) != SCHEDULE_VERSION or not default.is_complete(folder):
        return  # nothing usable cached: the flow trains what was asked
    try:
        trained = json.loads((folder / "model_card.json").read_text())["hyper_parameters"]["epochs"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    if trained != args.epochs:
        raise BadInputError(f"--epochs {args.epochs}: the cached model {folder} was trained with {trained} "
                            "epochs and would be returned unchanged; add --force to retrain it")


def run(args: argparse.Namespace) -> int:
    from cleann.cli.ingest import prepare_prefect_home

    if getattr(args, "ml1m", None):  # checked before Prefect starts (issue 12)
        from cleann.sources.movielens import check_members

        check_members(Path(args.ml1m).expanduser(), ("ratings.dat", "movies.dat"))
    check_cached_schedule(args)
    prepare_prefect_home()
    from cleann.flows.train import train_bert4rec, train_sentiment

    if args.model == "sentiment":
        result = train_sentiment(force=args.force, max_minutes=args.max_minutes)
    else:
        result = train_bert4rec(force=args.force, ml1m_path=args.ml1m,
                                max_minutes=args.max_minutes, epochs=args.epochs)
    rows = summary_rows(args.model, result)
    print(render(args.format, rows, document=result, table=lambda: summary_table(args.model, result, rows)))
    return 0
