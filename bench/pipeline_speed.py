"""Per-stage cost of the corpus pipeline: seconds per sample and end-to-end samples/s.

Runs the pipeline in this process (no Prefect, one worker) on the first N review
snippets (test split) and the first N ml-100k users with the default models and the
chosen heads, then reads the per-stage seconds every sample stores in
`samples.stage_seconds`: infer (its share of the batched forward pass), graph (attention
-> correlation -> CI tests -> ICD), search (PDS-tree search, tester excluded) and tester
(forward passes of candidate removals). The issue's target: graph + search <= 3x infer.

``--configs old,new`` (the default) runs the old corpus default (``--search sample
--max-set-size 2``, no row budget) and the new defaults (``ExplainParams()``: first-hit
search, max set size 3, 2000 model rows) one after the other in one invocation, each a
fresh run on the same samples, and prints them side by side; ``--configs custom`` runs the
``--search``/``--max-set-size``/``--max-model-rows`` given.

    .venv/bin/python bench/pipeline_speed.py --reviews 200 --users 200 --heads all \
        --out bench/results/pipeline_speed.md
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} cores, {cpu}, load average {load:.1f} at start"


CONFIGS = {  # name -> ExplainParams fields (missing ones: the dataclass defaults)
    "old": {"search": "sample", "max_set_size": 2, "max_model_rows": None},
    "new": {},
}


def run_corpus(kind: str, limit: int, heads: str, db: Path, model: str, batch_size: int,
               nodes: str = "all", config: str = "custom", **search: object) -> dict:
    from cleann.pipeline import explain
    from cleann.pipeline.params import ExecParams, ExplainParams
    from cleann.store.db import connect

    params = ExplainParams(corpus_kind=kind, corpus_name="rt_snippets" if kind == "imdb" else "ml-100k", heads=heads,
                           nodes=nodes, **search)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    summary = explain.run_local(params, ExecParams(limit=limit, batch_size=batch_size), model, db)
    wall = time.perf_counter() - t0
    con = connect(db, read_only=True)
    row = con.execute("""
        SELECT count(*), avg(n_tokens),
               avg(CAST(stage_seconds->>'infer' AS DOUBLE)), avg(CAST(stage_seconds->>'graph' AS DOUBLE)),
               avg(CAST(stage_seconds->>'search' AS DOUBLE)), avg(CAST(stage_seconds->>'tester' AS DOUBLE)),
               avg(forward_passes), count(best_size), sum(seconds), avg(model_rows),
               count(*) FILTER (WHERE explain_status = 'budget'), max(model_rows)
        FROM samples WHERE run_id = ? AND status = 'ok'""", [summary.run_id]).fetchall()[0]
    con.close()
    n, tokens, infer, graph, search_s, tester, passes, explained, busy, model_rows, budget, max_rows = row
    label = "review snippets" if kind == "imdb" else "ml-100k users"
    return {"corpus": f"{label}, {config}: search={params.search}, max set size={params.max_set_size}, "
                      f"max model rows={params.max_model_rows}", "n": n, "tokens": tokens, "load": load,
            "budget": budget, "max_rows": max_rows,
            "infer": infer, "graph": graph, "search": search_s, "tester": tester, "passes": passes,
            "model_rows": model_rows,
            "explained": explained, "wall": wall, "busy_per_s": n / busy if busy else 0.0,
            "per_s": summary.processed_now / wall if summary.processed_now else None,
            "run_id": summary.run_id}


def table(results: list[dict]) -> str:
    head = ("| corpus, settings | samples | mean length | infer s/sample | graph s/sample | search s/sample "
            "| tester s/sample | (graph+search)/infer | (graph+search+tester)/infer | forward passes/sample | model rows/sample "
            "| max model rows | with explanation | budget reached | samples/s (sum of stages) | samples/s (wall) "
            "| wall s | load at start |"
            "\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in results:
        lines.append(
            f"| {r['corpus']} | {r['n']} | {r['tokens']:.1f} | {r['infer']:.4f} | {r['graph']:.4f} | {r['search']:.4f} "
            f"| {r['tester']:.4f} | {(r['graph'] + r['search']) / r['infer']:.1f}x "
            f"| {(r['graph'] + r['search'] + r['tester']) / r['infer']:.1f}x | {r['passes']:.1f} | {r['model_rows']:.1f} "
            f"| {r['max_rows']} | {r['explained']}/{r['n']} ({100 * r['explained'] / max(1, r['n']):.1f} %) "
            f"| {r['budget']} | {r['busy_per_s']:.3f} "
            f"| {'resumed, none new' if r['per_s'] is None else format(r['per_s'], '.3f')} | {r['wall']:.0f} "
            f"| {r['load']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reviews", type=int, default=200)
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--heads", default="all")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--configs", default="old,new", help="old,new (side by side) or custom (the options below)")
    ap.add_argument("--max-set-size", type=int, help="custom: search limit (0: none)")
    ap.add_argument("--max-model-rows", type=int, help="custom: model rows per sample (0: none)")
    ap.add_argument("--rec-nodes", default="all", help="node selection for MovieLens (e.g. topk:16)")
    ap.add_argument("--search", choices=["head", "sample", "first"], help="custom: explanation search mode")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: on a shared 2-core machine 2 threads spin-wait)")
    ap.add_argument("--text-model", help="default: the embedded default sentiment model")
    ap.add_argument("--rec-model", help="default: the embedded default BERT4Rec")
    ap.add_argument("--db", help="database (default: a fresh temporary one)")
    ap.add_argument("--out", help="also write the markdown table here")
    args = ap.parse_args()

    import torch

    from cleann.models.default import default_bert4rec_dir, default_sentiment_dir, is_complete

    torch.set_num_threads(args.threads)
    started_on = machine()
    db = Path(args.db) if args.db else Path(tempfile.mkdtemp()) / "bench.duckdb"
    if args.configs == "custom":
        configs = {"custom": {k: (None if v == 0 else v) for k, v in (
            ("search", args.search), ("max_set_size", args.max_set_size), ("max_model_rows", args.max_model_rows))
            if v is not None}}
    else:
        configs = {name: CONFIGS[name] for name in args.configs.split(",")}
    results = []
    for kind, n, chosen, default_dir in (("imdb", args.reviews, args.text_model, default_sentiment_dir),
                                         ("movielens", args.users, args.rec_model, default_bert4rec_dir)):
        if not n:
            continue
        model = chosen or str(default_dir())
        if not chosen and not is_complete(Path(model)):  # never train from a benchmark (races a training)
            raise SystemExit(f"no trained model at {model}: run `cleann train` first")
        # warm-up, not reported: ingests the corpus into the database and loads the model once
        run_corpus(kind, 1, args.heads, db, model, 1, nodes=args.rec_nodes if kind == "movielens" else "all",
                   config="warm-up", search="first", max_set_size=1, max_model_rows=1)
        for name, fields in configs.items():
            results.append(run_corpus(kind, n, args.heads, db, model, args.batch_size,
                                      nodes=args.rec_nodes if kind == "movielens" else "all", config=name, **fields))
            print(table(results), flush=True)
    text = table(results)
    print(text)
    if args.out:
        try:
            commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        except OSError:
            commit = "?"
        cmd = "bench/pipeline_speed.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None and k not in ("out", "db"))
        out = Path(args.out)
        earlier = out.read_text().split("\n", 1)[1].lstrip("\n") if out.exists() else ""
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        out.write_text(  # newest run first, earlier runs kept below
            f"# Pipeline speed\n\n## Run of {when}\n\nCommand: `.venv/bin/python {cmd}` (commit {commit})\n\n"
            f"Machine: {started_on}; one process, sequential (no Prefect), torch threads={args.threads}, "
            f"heads={args.heads}, MovieLens nodes={args.rec_nodes}; configurations run one after the other "
            f"(load average at each start in the table).\n\n{text}\n\n{earlier}")


if __name__ == "__main__":
    main()
