"""Train one candidate schedule of the default sentiment model and print what it costs and scores.

Run: .venv/bin/python bench/sentiment_schedule.py NAME '{"train_top_layers": 3, "epochs": 2}'
The JSON holds FinetuneConfig overrides (cleann/models/finetune.py); the model is trained
on the offline corpora's train splits into /tmp/cleann-schedule-NAME exactly as
`cleann train sentiment` would, evaluated on the held-out splits (full reviews by
chunks), and one JSON line is appended to bench/results/sentiment_schedule.jsonl with
the timings (one-time cache, training, evaluation), accuracies, precision, threads and
the load average before and after, because the machine may be shared.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def main() -> None:
    from cleann.models.finetune import CORPORA, FinetuneConfig, finetune_sentiment
    from cleann.sources.artifacts import minilm_dir
    from cleann.sources.text import load_offline

    name = sys.argv[1]
    overrides = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    cfg = FinetuneConfig(**overrides)
    frames = {c: load_offline(c) for c in CORPORA}
    load_before, started = os.getloadavg()[0], time.perf_counter()
    out = finetune_sentiment(f"/tmp/cleann-schedule-{name}", minilm_dir(), frames, cfg,
                             log=lambda s: print(s, flush=True))
    card = json.loads((out / "model_card.json").read_text())
    row = {"name": name, "overrides": overrides, "precision": card["precision"],
           "threads": cfg.threads, "steps": card["steps"], "epoch_losses": card["epoch_losses"],
           "cache_seconds": card["cache_seconds"], "train_seconds": card["train_seconds"],
           "eval_seconds": card["eval_seconds"],
           "wall_seconds": round(time.perf_counter() - started, 1),
           "accuracy": {c: round(v["accuracy"], 4) for c, v in card["accuracy"].items()},
           "load": [round(load_before, 1), round(os.getloadavg()[0], 1)],
           "command": "bench/sentiment_schedule.py " + " ".join(sys.argv[1:])}
    print(json.dumps(row))
    with open(Path(__file__).parent / "results" / "sentiment_schedule.jsonl", "a") as fh:
        fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
