"""What each speed choice of the default sentiment schedule buys, per training step.

Run: .venv/bin/python bench/train_speed.py [--repeats 5]
Prints, for one batch of 32 snippets and one batch of 32 review chunks (128 tokens):
seconds per training step of the old recipe (whole model forward, top 3 layers
backward) and of the cached recipe (only the top T layers forward and backward on the
cached frozen states) for T = 3, 2, 1, with 1 and 2 torch threads; the one-time cost of
caching the frozen layers; and the padding that length bucketing removes over the
real training set. Timings are the minimum over --repeats (interleaved), with the load
average, because the machine may be shared.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd
import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    from cleann.models import finetune as F
    from cleann.models.sentiment import load_classifier
    from cleann.sources.artifacts import minilm_dir
    from cleann.sources.text import load_offline

    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    cfg = F.FinetuneConfig()
    frames = {c: load_offline(c) for c in cfg.corpora}
    train = pd.concat(frames.values(), ignore_index=True).query("split == 'train'")
    model, tok = load_classifier(minilm_dir(), allow_new_head=True, num_labels=2)
    ids, labels = F.training_examples(tok, train, cfg, np.random.default_rng(0))
    lengths = np.array([len(x) for x in ids])
    short = [i for i, n in enumerate(lengths) if n < 100][:32]
    chunks = [i for i, n in enumerate(lengths) if n == cfg.chunk_length][:32]

    # padding: random batches vs length-bucketed batches over the real examples
    rng = np.random.default_rng(0)
    random_batches = np.array_split(rng.permutation(len(ids)), int(np.ceil(len(ids) / cfg.batch_size)))
    bucketed = F.bucketed_batches(lengths, cfg.batch_size, np.random.default_rng(0), cfg.bucket_window)
    padded = {name: int(sum(len(b) * lengths[b].max() for b in bs))
              for name, bs in (("random", random_batches), ("bucketed", bucketed))}
    print(f"examples {len(ids)}, real tokens {int(lengths.sum())}; padded tokens per epoch: "
          f"random batches {padded['random']}, bucketed {padded['bucketed']} "
          f"({padded['random'] / padded['bucketed']:.2f}x fewer)")

    layers = model.base_model.encoder.layer
    model.base_model.embeddings.requires_grad_(False)
    y = torch.tensor(labels)

    def step_full(batch, top):
        for i, layer in enumerate(layers):
            layer.requires_grad_(i >= len(layers) - top)
        input_ids, mask = F._pad([ids[i] for i in batch], tok.pad_token_id)
        loss = torch.nn.functional.cross_entropy(
            model(input_ids=input_ids, attention_mask=mask).logits, y[batch])
        loss.backward()
        model.zero_grad(set_to_none=True)

    cache = {}

    def step_cached(batch, top):
        n_frozen = len(layers) - top
        for i, layer in enumerate(layers):
            layer.requires_grad_(i >= n_frozen)
        key = (tuple(batch), n_frozen)
        if key not in cache:
            cache[key] = F._stack(F.encode_frozen(model, [ids[i] for i in batch], n_frozen, tok.pad_token_id))
        x, mask = cache[key]
        loss = torch.nn.functional.cross_entropy(F.upper_logits(model, x, mask, n_frozen), y[batch])
        loss.backward()
        model.zero_grad(set_to_none=True)

    def encode(batch, n_frozen):
        F.encode_frozen(model, [ids[i] for i in batch], n_frozen, tok.pad_token_id)

    cases = [("old: full forward, top 3 backward", lambda b: step_full(b, 3))]
    cases += [(f"cached: top {t} forward+backward", (lambda t: lambda b: step_cached(b, t))(t)) for t in (3, 2, 1)]
    cases += [(f"one-time cache of {n} frozen layers", (lambda n: lambda b: encode(b, n))(n)) for n in (3, 4, 5)]
    model.train()
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for batch_name, batch in (("32 snippets", short), ("32 chunks of 128", chunks)):
            times = {name: [] for name, _ in cases}
            for name, fn in cases:  # warm-up (and fill the cache)
                fn(batch)
            for _ in range(args.repeats):
                for name, fn in cases:
                    t0 = time.perf_counter()
                    fn(batch)
                    times[name].append(time.perf_counter() - t0)
            print(f"\nthreads {threads}, {batch_name} (load {os.getloadavg()[0]:.1f}):")
            for name, ts in times.items():
                print(f"  {name:<38} {min(ts):7.3f} s/step (median {np.median(ts):.3f})")
    print(f"\ncommand: {' '.join([sys.executable.split('/')[-1], *sys.argv])}")


if __name__ == "__main__":
    main()
