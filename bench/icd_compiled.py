"""Compiled vs pure ICD on real attention heads, side by side in one run.

Heads: the last attention layer (12 heads) of the pretrained MiniLM
(``cleann.sources.artifacts.minilm_dir()``) on the first ``--snippets`` rt_snippets
(``load_offline("rt_snippets")``), every token position a node, N = hidden size (384),
alpha 0.01 -- what ``cleann explain`` learns per head. Each head is learned by the pure
path (``learn_icd(compiled=False)``) and the compiled one (``compiled=True``), in
alternating order, and every PAG (edges and marks), sepset, CI-test count per size and
iteration count is compared (every repeat). Prints ms per head (fastest of ``--repeat``)
by node-count bucket, the machine, its load and the command. ``--compile-time`` also times a cold JIT compile in a child with an
empty numba cache.

    .venv/bin/python bench/icd_compiled.py                   # 40 snippets x 12 heads
    .venv/bin/python bench/icd_compiled.py --snippets 10 --compile-time
"""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

BUCKETS = [(0, 20), (21, 30), (31, 40), (41, 10_000)]


def load_heads(snippets: int, max_length: int) -> tuple[list[np.ndarray], int]:
    """Last-layer attention [12, L, L] per snippet (float64) and the hidden size."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from cleann.sources.artifacts import minilm_dir
    from cleann.sources.text import load_offline

    torch.set_num_threads(1)
    folder = minilm_dir()
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
    texts = load_offline("rt_snippets")["text"].tolist()[:snippets]
    out = []
    with torch.no_grad():
        for text in texts:
            enc = tok(text, return_tensors="pt", truncation=True, max_length=max_length)
            out.append(model(**enc, output_attentions=True).attentions[-1][0].numpy().astype(np.float64))
    return out, int(model.config.hidden_size)


def learn(attention: np.ndarray, samples: int, alpha: float, compiled: bool):
    from cleann.causal.citest import FisherZTest, attention_to_correlation
    from cleann.causal.icd import learn_icd

    start = time.perf_counter()
    ci = FisherZTest(attention_to_correlation(attention), samples, alpha)
    res = learn_icd(range(attention.shape[0]), ci, compiled=compiled)
    return res, time.perf_counter() - start


def same(a, b) -> bool:
    return (a.pag.edges() == b.pag.edges() and a.sepsets == b.sepsets and a.ci_tests == b.ci_tests
            and a.ci_tests_by_size == b.ci_tests_by_size and a.iterations == b.iterations)


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return platform.processor() or "unknown CPU"


def cold_compile_seconds() -> float:
    """First compiled ICD call in a fresh interpreter with an empty numba cache."""
    code = ("import time, numpy as np\n"
            "from cleann.causal.citest import FisherZTest, attention_to_correlation\n"
            "from cleann.causal.icd import learn_icd\n"
            "a = np.random.default_rng(0).random((30, 30)) ** 4\n"
            "t = time.perf_counter()\n"
            "learn_icd(range(30), FisherZTest(attention_to_correlation(a), 384, 0.05), compiled=True)\n"
            "print(time.perf_counter() - t)\n")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snippets", type=int, default=40)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--alpha", type=float, default=0.01)
    ap.add_argument("--repeat", type=int, default=3, help="runs per head and path; the fastest counts "
                    "(a shared machine's load spikes otherwise dominate means)")
    ap.add_argument("--compile-time", action="store_true", help="also time a cold JIT compile (empty cache)")
    args = ap.parse_args()

    heads, samples = load_heads(args.snippets, args.max_length)
    t0 = time.perf_counter()
    learn(heads[0][0], samples, args.alpha, True)  # load (or compile) the kernels once
    first_call = time.perf_counter() - t0

    rows = []  # (nodes, pure s, compiled s, equal)
    n = 0
    for snippet in heads:
        for attention in snippet:
            tp = tc = float("inf")
            for rep in range(args.repeat):  # alternate the order: neither path always runs first
                if (n + rep) % 2:
                    pure, p_s = learn(attention, samples, args.alpha, False)
                    comp, c_s = learn(attention, samples, args.alpha, True)
                else:
                    comp, c_s = learn(attention, samples, args.alpha, True)
                    pure, p_s = learn(attention, samples, args.alpha, False)
                tp, tc = min(tp, p_s), min(tc, c_s)
                ok = same(pure, comp)
                if not ok:
                    break
            rows.append((attention.shape[0], tp, tc, ok))
            n += 1

    print(f"# ICD pure vs compiled: {len(heads)} rt_snippets x {heads[0].shape[0]} heads "
          f"(pretrained MiniLM, last layer, N={samples}, alpha={args.alpha}, max_length={args.max_length})")
    print(f"command: .venv/bin/python bench/{os.path.basename(__file__)} {shlex.join(sys.argv[1:])}".rstrip())
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs visible, {platform.machine()}; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min) at the end")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"first compiled call in this process (kernels loaded from the numba cache or compiled): {first_call:.2f} s")
    if args.compile_time:
        print(f"cold JIT compile (fresh interpreter, empty NUMBA_CACHE_DIR): {cold_compile_seconds():.1f} s")
    equal = sum(r[3] for r in rows)
    print(f"identical PAG + sepsets + CI-test counts + iterations: {equal}/{len(rows)} heads")
    print()
    print(f"ms per head = fastest of {args.repeat} runs (correlation + CI test object + learn_icd)")
    print()
    print("| nodes | heads | pure mean | pure median | compiled mean | compiled median | compiled max | speed-up (mean) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for lo, hi in BUCKETS + [(0, 10_000)]:
        sel = [r for r in rows if lo <= r[0] <= hi]
        if not sel:
            continue
        label = "all" if (lo, hi) == (0, 10_000) else (f"{lo}-{hi}" if hi < 10_000 else f">= {lo}")
        tp = [r[1] * 1e3 for r in sel]
        tc = [r[2] * 1e3 for r in sel]
        print(f"| {label} | {len(sel)} | {statistics.mean(tp):.2f} | {statistics.median(tp):.2f} | "
              f"{statistics.mean(tc):.2f} | {statistics.median(tc):.2f} | {max(tc):.2f} | "
              f"{statistics.mean(tp) / statistics.mean(tc):.1f}x |")
    if equal != len(rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
