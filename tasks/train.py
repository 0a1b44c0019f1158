"""Prefect tasks that build the embedded default models (once; cached on disk).

Why tasks: training is the slowest step of a fresh install; as tasks they show up in
the Prefect UI with their duration and failure. They take and return plain values
(flags, paths, dicts) and are never cached by Prefect: the on-disk model folder with
its sha256-checked card is the cache (``--force`` rebuilds it).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE


def _progress(message: str) -> None:
    print(f"[train] {message}", file=sys.stderr, flush=True)


def _card(folder: Path) -> dict:
    return json.loads((folder / "model_card.json").read_text())


@task(name="train_sentiment", cache_policy=NO_CACHE)
def train_sentiment_task(force: bool = False, max_minutes: float | None = None) -> dict:
    """Fine-tune MiniLM on the offline review corpora unless a complete model is cached."""
    from cleann.models.default import ensure_default_sentiment
    from cleann.models.finetune import FinetuneConfig

    cfg = FinetuneConfig(**({"max_train_minutes": max_minutes} if max_minutes else {}))
    folder = ensure_default_sentiment(force=force, log=_progress, cfg=cfg)
    card = _card(folder)
    return {"path": str(folder), "accuracy": card["accuracy"], "steps": card.get("steps"),
            "schedule_version": card.get("schedule_version"),
            "train_seconds": card["train_seconds"], "weights_sha256": card["weights_sha256"]}


@task(name="train_bert4rec", cache_policy=NO_CACHE)
def train_bert4rec_task(force: bool = False, ml1m_path: str | None = None,
                        max_minutes: float | None = None, epochs: int | None = None) -> dict:
    """Train BERT4Rec on offline ml-100k (or the user's ml-1m) unless cached."""
    from cleann.models.bert4rec_train import RecTrainConfig
    from cleann.models.default import ensure_default_bert4rec

    overrides = {k: v for k, v in {"max_train_minutes": max_minutes, "epochs": epochs}.items()
                 if v is not None}
    cfg = RecTrainConfig(**overrides)
    interactions, corpus = None, "ml-100k"
    if ml1m_path:
        from cleann.sources.movielens import load_ml1m

        interactions, corpus = load_ml1m(ml1m_path)[0], "ml-1m"
    folder = ensure_default_bert4rec(force=force, log=_progress, cfg=cfg,
                                     interactions=interactions, corpus=corpus)
    card = _card(folder)
    return {"path": str(folder), "test": card["test"], "train_seconds": card["train_seconds"],
            "best_epoch": card["best_epoch"], "weights_sha256": card["weights_sha256"]}
