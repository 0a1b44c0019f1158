"""Train one BERT4Rec schedule on offline ml-100k and print its cost and held-out scores.

Why: the default schedule (``RecTrainConfig``) must fit the first-run goal on 2 cores
while keeping HR@10 >= 0.60 and NDCG@10 >= 0.35 (uniform negatives, as
``cleann model eval bert4rec``). This trains a config exactly as
``ensure_default_bert4rec`` does (same split, same ``train_bert4rec``) into memory and
prints train seconds (validation included and shown apart), test evaluation seconds,
HR@10/NDCG@10 with uniform and popularity negatives, the load and the command.

    nice -n 5 .venv/bin/python bench/bert4rec_schedule.py                 # the default
    nice -n 5 .venv/bin/python bench/bert4rec_schedule.py epochs=30 batch_size=64 \\
        lr=2e-3 lr_schedule=linear eval_every=10 --jsonl bench/results/bert4rec_schedule.jsonl
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import sys
import time
import typing


def parse_overrides(pairs: list[str]) -> dict:
    """``key=value`` pairs -> RecTrainConfig overrides, typed like the dataclass fields."""
    from cleann.models.bert4rec_train import RecTrainConfig

    hints = typing.get_type_hints(RecTrainConfig)
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in hints:
            sys.exit(f"not a RecTrainConfig field: {pair!r} (fields: {', '.join(hints)})")
        kind = hints[key]
        if value.lower() == "none":
            out[key] = None
        elif kind in (int, float, str):
            out[key] = kind(value)
        else:  # float | None and the like
            out[key] = float(value)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("overrides", nargs="*", help="RecTrainConfig field=value")
    ap.add_argument("--jsonl", help="append the result as one JSON line to this file")
    ap.add_argument("--label", default="", help="name of the candidate in the table")
    args = ap.parse_args()

    from cleann.models.bert4rec_train import RecTrainConfig, evaluate, train_bert4rec
    from cleann.models.rec_split import leave_one_out
    from cleann.sources.movielens import load_offline_ml100k

    cfg = RecTrainConfig(**parse_overrides(args.overrides))
    split = leave_one_out(load_offline_ml100k()[0])
    load_before = os.getloadavg()
    cpu0 = time.process_time()
    rec, report = train_bert4rec(split, cfg, log=lambda line: print(line, flush=True))
    train_cpu = time.process_time() - cpu0
    started = time.perf_counter()
    test = {how: evaluate(rec, split, "test", how, cfg.num_negatives, cfg.seed)
            for how in ("uniform", "popularity")}
    eval_seconds = time.perf_counter() - started
    load_after = os.getloadavg()
    row = {
        "label": args.label, "overrides": args.overrides, "epochs": cfg.epochs,
        "best_epoch": report["best_epoch"], "train_seconds": report["train_seconds"],
        "train_cpu_seconds": round(train_cpu, 1), "valid_seconds": report["valid_seconds"],
        "validations": len(report["history"]), "test_eval_seconds": round(eval_seconds, 1),
        **{f"{how}_{name}_{m}": round(test[how][name][m], 4)
           for how in test for name in ("model", "popularity") for m in ("HR@10", "NDCG@10")},
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "command": "nice -n 5 .venv/bin/python bench/bert4rec_schedule.py "
                   + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "config": dataclasses.asdict(cfg),
    }
    print(f"train {row['train_seconds']} s wall ({row['train_cpu_seconds']} s CPU; "
          f"{row['valid_seconds']} s of it {row['validations']} validations), "
          f"test eval {row['test_eval_seconds']} s (both negative kinds)")
    for how in test:
        m, p = test[how]["model"], test[how]["popularity"]
        print(f"{how:>10} negatives: HR@10 {m['HR@10']:.4f} NDCG@10 {m['NDCG@10']:.4f} "
              f"(popularity {p['HR@10']:.4f} / {p['NDCG@10']:.4f})")
    print(f"load average {load_before[0]:.2f} -> {load_after[0]:.2f}; {row['machine']}")
    print(f"command: {row['command']}")
    if args.jsonl:
        with open(args.jsonl, "a") as fh:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
