"""Inference throughput of the sentiment model with last-layer attention capture.

Why: CLEANN needs every sample's attention, which forces the eager attention backend;
this measures what that costs (samples/s at batch 32 for 128- and 512-token inputs)
against a plain eager forward without returning attentions.

Usage: .venv/bin/python bench/inference_speed.py [--model PATH] [--batches 3]
Default model: the cached fine-tuned default if present, else the pretrained MiniLM
with a fresh head (same architecture, same cost).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import torch


def _model(path: str | None):
    from cleann.models.default import default_sentiment_dir, is_complete
    from cleann.models.sentiment import load_classifier

    if path:
        return path, *load_classifier(path)
    if is_complete(default_sentiment_dir()):
        return str(default_sentiment_dir()), *load_classifier(default_sentiment_dir())
    from cleann.sources.artifacts import minilm_dir

    return f"{minilm_dir()} (fresh head)", *load_classifier(minilm_dir(), allow_new_head=True,
                                                             num_labels=2)


def _time(fn, batches: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(batches):
        fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--batches", type=int, default=3, help="timed batches per setting")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from cleann.models.sentiment import infer

    name, model, tok = _model(args.model)
    words = ("the film was surprisingly good and the acting felt honest " * 120).split()
    text = " ".join(words)
    rows = []
    for length in args.lengths:
        texts = [text] * args.batch_size  # truncated to exactly `length` tokens
        enc = tok(texts, truncation=True, max_length=length, padding=True, return_tensors="pt")

        def plain() -> None:
            with torch.no_grad():
                model(**enc)

        t_att = _time(lambda: infer(model, tok, texts, args.batch_size, length), args.batches)
        t_plain = _time(plain, args.batches)
        n = args.batch_size * args.batches
        rows.append((length, n / t_att, n / t_plain))
    machine = (f"{platform.machine()}, {os.cpu_count()} CPU cores visible, "
               f"torch {torch.__version__} ({args.threads} threads), no GPU"
               if not torch.cuda.is_available() else torch.cuda.get_device_name())
    print(f"model: {name}")
    print(f"machine: {machine}; load average at start {os.getloadavg()[0]:.1f}")
    print(f"command: .venv/bin/python bench/inference_speed.py {' '.join(argv or sys.argv[1:])}")
    print()
    print("| tokens | batch | samples/s with attention capture | samples/s plain eager forward |")
    print("|---:|---:|---:|---:|")
    for length, att, plain_rate in rows:
        print(f"| {length} | {args.batch_size} | {att:.2f} | {plain_rate:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
