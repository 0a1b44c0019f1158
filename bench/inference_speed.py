"""Inference throughput of the sentiment model with last-layer attention capture.

Why: CLEANN needs every sample's attention, which forces the eager attention backend;
this measures what that costs (samples/s at batch 32 for 128- and 512-token inputs)
against a plain eager forward without returning attentions.

``--snippets N`` also times ``infer`` on the first N held-out rt_snippets three ways:
as it runs (sorted by length, each batch padded to its own longest text), in input order
(each batch padded to its longest text), and padded to ``max_length`` (128), to show
what batching by length saves on a real corpus (CPU time, so a busy machine matters less).

Usage: .venv/bin/python bench/inference_speed.py [--model PATH] [--batches 3] [--snippets 512]
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
    parser.add_argument("--snippets", type=int, default=0, help="also time infer on N real snippets")
    parser.add_argument("--device", default="cpu", help="auto|cpu|cuda (model and inputs)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from cleann.models.sentiment import infer

    from cleann.models.device import resolve_device

    name, model, tok = _model(args.model)
    model.to(resolve_device(args.device))
    if args.snippets:
        corpus_rows = _corpus(model, tok, args.snippets, args.batch_size)
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
    if args.snippets:
        print()
        print(f"infer on {args.snippets} held-out rt_snippets, batch {args.batch_size}, max_length 128:")
        print()
        print("| batching | padded tokens | ms per snippet, wall | ms per snippet, CPU time |")
        print("|---|---:|---:|---:|")
        for label, tokens, wall, cpu in corpus_rows:
            print(f"| {label} | {tokens} | {wall:.2f} | {cpu:.2f} |")
    return 0


def _corpus(model, tok, n: int, batch: int) -> list[tuple[str, int, float, float]]:
    """infer's length-sorted batching vs input order vs padding to max_length, same texts."""
    from cleann.models.sentiment import infer
    from cleann.sources.text import load_offline

    df = load_offline("rt_snippets")
    texts = df[df.split == "test"].sort_values("doc_id").text.head(n).tolist()
    lengths = [len(ids) for ids in tok(texts, truncation=True, max_length=128)["input_ids"]]
    sorted_len = sorted(lengths, reverse=True)
    padded_sorted = sum(max(sorted_len[i:i + batch]) * len(sorted_len[i:i + batch])
                        for i in range(0, n, batch))
    padded_input = sum(max(lengths[i:i + batch]) * len(lengths[i:i + batch]) for i in range(0, n, batch))

    def sorted_run():
        infer(model, tok, texts, batch_size=batch, max_length=128)

    def input_order():  # infer sorts within a call: one call per batch keeps input order
        for i in range(0, n, batch):
            infer(model, tok, texts[i:i + batch], batch_size=batch, max_length=128)

    def full_pad():
        for i in range(0, n, batch):
            enc = tok(texts[i:i + batch], truncation=True, max_length=128, padding="max_length",
                      return_tensors="pt")
            with torch.no_grad():
                model(**{k: v.to(model.device) for k, v in enc.items()}, output_attentions=True)

    out = []
    for label, fn, tokens in (("sorted by length, padded per batch (infer)", sorted_run, padded_sorted),
                              ("input order, padded per batch", input_order, padded_input),
                              ("padded to max_length 128 (forward only)", full_pad, 128 * n)):
        w, c = time.perf_counter(), time.process_time()
        fn()
        out.append((label, tokens, (time.perf_counter() - w) * 1000 / n,
                    (time.process_time() - c) * 1000 / n))
    return out


if __name__ == "__main__":
    sys.exit(main())
