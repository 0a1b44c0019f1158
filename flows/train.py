"""Flows `train_sentiment` and `train_bert4rec`: build the embedded default models.

Why flows: `cleann train ...` and scheduled deployments run the same code path, with
the run (and its duration, failure, result) recorded by Prefect. Each flow is one task;
later runs return the cached model at once.
"""
from __future__ import annotations

from prefect import flow

from cleann.tasks.train import train_bert4rec_task, train_sentiment_task


@flow(name="train_sentiment", log_prints=False)
def train_sentiment(force: bool = False, max_minutes: float | None = None) -> dict:
    """Fine-tuned MiniLM sentiment model in the cache; returns its path and accuracy."""
    return train_sentiment_task(force=force, max_minutes=max_minutes)


@flow(name="train_bert4rec", log_prints=False)
def train_bert4rec(force: bool = False, ml1m_path: str | None = None,
                   max_minutes: float | None = None, epochs: int | None = None) -> dict:
    """Trained BERT4Rec in the cache; returns its path and test metrics."""
    return train_bert4rec_task(force=force, ml1m_path=ml1m_path, max_minutes=max_minutes,
                               epochs=epochs)
