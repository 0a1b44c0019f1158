"""How long the word-level queries take on a corpus-sized run (synthetic rows).

Builds a database with N samples of L tokens (every third token a '##' continuation
piece), one best set per sample from one of 12 heads, and times each word-level query
and the export. Usage: .venv/bin/python bench/words_view.py [--samples 12808] [--tokens 32]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def build(db: Path, run_id: str, n: int, length: int, seed: int) -> None:
    from cleann.store.db import connect, insert_frame

    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(3000)])
    sid = np.repeat(np.arange(n), length)
    pos = np.tile(np.arange(length), n)
    piece = (pos % 3 == 2)
    word_idx = np.cumsum(~piece.reshape(n, length), axis=1).ravel() - 1
    tokens = np.where(piece, "##x", vocab[rng.zipf(1.3, n * length) % len(vocab)])
    special = (pos == 0) | (pos == length - 1)
    con = connect(db)
    insert_frame(con, "runs", pd.DataFrame([{"run_id": run_id, "kind": "sentiment", "corpus": "imdb:bench:test"}]))
    samples = pd.DataFrame({"run_id": run_id, "sample_id": [f"s{i:06d}" for i in range(n)],
                            "pred": rng.integers(0, 2, n), "status": "ok", "best_size": rng.integers(1, 4, n)})
    insert_frame(con, "samples", samples)
    insert_frame(con, "tokens", pd.DataFrame({
        "run_id": run_id, "sample_id": [f"s{i:06d}" for i in sid], "pos": pos, "token": tokens,
        "word_idx": np.where(special, -1, word_idx), "is_special": special}).replace({"word_idx": {-1: None}}))
    heads = rng.integers(0, 12, n)
    best = [sorted(rng.choice(np.arange(1, length - 1), size=int(k), replace=False).tolist())
            for k in samples["best_size"]]
    insert_frame(con, "explanations", pd.DataFrame({
        "run_id": run_id, "sample_id": samples["sample_id"], "head": heads, "explainer": "cleann", "rank": 0,
        "positions": best, "size": samples["best_size"]}))
    insert_frame(con, "explain_heads", pd.DataFrame({
        "run_id": run_id, "sample_id": np.repeat(samples["sample_id"], 12), "head": np.tile(np.arange(12), n),
        "top_attended": [rng.permutation(np.arange(1, length))[:10].tolist() for _ in range(12 * n)]}))
    con.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=12808)
    ap.add_argument("--tokens", type=int, default=32)
    args = ap.parse_args()
    from cleann.export import export_run
    from cleann.store.queries import run_query

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        t0 = time.perf_counter()
        build(db, "a", args.samples, args.tokens, 0)
        build(db, "b", args.samples, args.tokens, 1)
        print(f"built 2 runs x {args.samples} samples x {args.tokens} tokens in {time.perf_counter() - t0:.1f} s")
        for name, run, params in (("causal_tokens", "a", {}), ("causal_not_attended", "a", {}),
                                  ("compare_runs", None, {"run_a": "a", "run_b": "b"})):
            t0 = time.perf_counter()
            frame = run_query(name, db, run, params)
            print(f"{name:20s} {time.perf_counter() - t0:6.2f} s  ({len(frame)} rows)")
        t0 = time.perf_counter()
        tables = export_run("a", Path(tmp) / "out", db)
        print(f"{'export':20s} {time.perf_counter() - t0:6.2f} s  ({sum(t.rows for t in tables):,} rows)")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
