"""First-hit search vs the exhaustive search on real snippets: same rank-0 set, fewer rows?

For each of the first N review snippets of the test split (by id) with the trained default
sentiment model, every head's graph is learned once and then searched three ways:

- ``sample`` (the old corpus default): all heads size by size, every set of the minimal size;
- ``first`` at the same ``--max-set-size``, no row budget: must give the same rank-0 set
  (key (size, dist_sum, head, index), cleann.causal.multihead) on every snippet;
- ``first`` with the new defaults (``--default-size``, ``--budget``): found share, size and
  rows, i.e. what the new default costs and finds.

Prints one line per mismatch, the summary table (markdown) and the command; exit code 1 on
any rank-0 mismatch.

    .venv/bin/python bench/first_hit_check.py --n 200 --out bench/results/first_hit_check.md
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path


def _texts(corpus: str, n: int) -> tuple[list[str], list[str]]:
    from cleann.sources.text import load_offline

    df = load_offline(corpus)
    df = df[df["split"] == "test"].sort_values("doc_id").head(n)
    return df["doc_id"].tolist(), df["text"].tolist()


def _reusing(tester, known: dict):
    """A tester answering known sets from ``known`` and asking the model for the others."""
    def ask(sets: list) -> list:
        new = [x for x in sets if x not in known]
        answers = dict(zip(new, tester(new))) if new else {}
        return [known[x] if x in known else answers[x] for x in sets]

    return ask


def _best(found) -> tuple | None:
    ranked = found.ranked()
    return (ranked[0][0], ranked[0][3]) if ranked else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--corpus", default="rt_snippets")
    ap.add_argument("--model", help="classifier folder (default: the cached default model)")
    ap.add_argument("--max-set-size", type=int, default=2, help="limit of the old/new comparison (old default: 2)")
    ap.add_argument("--default-size", type=int, default=3, help="max set size of the new default")
    ap.add_argument("--budget", type=int, default=2000, help="max model rows of the new default")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: on a shared 2-core machine 2 threads spin-wait, ~100x slower)")
    ap.add_argument("--out", help="also write the result (markdown) here")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)

    from cleann.causal.multihead import Verdicts, learn_heads, search_heads
    from cleann.models.default import default_sentiment_dir, is_complete
    from cleann.pipeline.batch import TextBackend
    from cleann.pipeline.nodes import head_matrices, plan_nodes

    load = os.getloadavg()[0]
    model = args.model or str(default_sentiment_dir())
    if not args.model and not is_complete(Path(model)):  # never train from a benchmark (races a training)
        sys.exit(f"no trained model at {model}: run `cleann train sentiment` first")
    backend = TextBackend(model)
    ids, texts = _texts(args.corpus, args.n)
    views = backend.infer(texts, 16, args.max_length)
    n_hidden = backend.hidden_size
    stats = Counter()
    sizes_old, sizes_new = Counter(), Counter()
    rows = {"sample": 0, "first": 0, "default": 0}
    seconds = {"sample": 0.0, "first": 0.0, "default": 0.0}
    mismatches = []
    t_start = time.perf_counter()
    for sid, view in zip(ids, views):
        heads = [(h, m, plan_nodes(m, view.target, "all", view.word_ids)) for h, m in head_matrices(view.attention, "all")]
        learned = learn_heads(heads, num_samples=n_hidden)
        tester = backend.tester(view, "pad")
        found = {}
        for name, mode, limit, budget in (("sample", "sample", args.max_set_size, None),
                                          ("first", "first", args.max_set_size, None),
                                          ("default", "first", args.default_size, args.budget)):
            # each search counts its own rows; verdicts the old search already has are reused (a
            # verdict depends on the positions only), so the model runs each distinct set once
            known = found["sample"].verdicts.cache if "sample" in found else {}
            verdicts = Verdicts(_reusing(tester, known), budget)
            t0 = time.perf_counter()
            found[name] = search_heads(learned, verdicts, search=mode, max_set_size=limit)
            found[name].verdicts = verdicts
            seconds[name] += time.perf_counter() - t0
            rows[name] += found[name].rows
        old, new = _best(found["sample"]), _best(found["first"])
        stats["n"] += 1
        stats["same"] += old == new
        if old != new:
            mismatches.append(f"{sid}: sample {old} vs first {new}")
            print(f"MISMATCH {mismatches[-1]}", flush=True)
        sizes_old[old[0][0] if old else None] += 1
        d = found["default"]
        print(f"{stats['n']:4d} {sid}: rows sample {found['sample'].rows} first {found['first'].rows} "
              f"default {found['default'].rows} ({d.status}); same rank 0: {old == new}", flush=True)
        sizes_new[d.status if d.status != "ok" else _best(d)[0][0]] += 1
    wall = time.perf_counter() - t_start
    n = stats["n"]
    found_old = n - sizes_old[None]
    found_new = sum(v for k, v in sizes_new.items() if isinstance(k, int))
    size_cols = sorted(k for k in sizes_new if isinstance(k, int))
    lines = [
        f"Rank-0 identical on {stats['same']}/{n} snippets (sample vs first, max set size {args.max_set_size}).",
        "",
        "| search | max set size | row budget | found | found at size 1 / 2 / 3 | budget reached "
        "| model rows / snippet | search + tester s / snippet |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, limit, budget, sizes in (("sample (old default)", args.max_set_size, None, sizes_old),
                                       ("first", args.max_set_size, None, sizes_old),
                                       ("first (new default)", args.default_size, args.budget, sizes_new)):
        key = name.split()[0] if "default" not in name or "old" in name else "default"
        key = "first" if name == "first" else key
        got = found_old if "new" not in name else found_new
        by_size = " / ".join(str(sizes.get(k, 0)) for k in (1, 2, 3))
        lines.append(f"| {name} | {limit} | {budget or 'none'} | {got}/{n} ({100 * got / n:.1f} %) | {by_size} "
                     f"| {sizes.get('budget', 0)} | {rows[key] / n:.1f} | {seconds[key] / n:.3f} |")
    cmd = "bench/first_hit_check.py " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                                                  if v is not None and k != "out")
    text = "\n".join(lines) + (f"\n\nCommand: `.venv/bin/python {cmd}`; model {model}; {os.cpu_count()} cores, "
                               f"load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at end; "
                               f"{wall:.0f} s wall clock (graphs learned once per snippet and shared; each search counts its own rows, "
                               f"but verdicts an earlier search has are reused, so later searches' seconds exclude them).")
    print(text)
    if args.out:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        out = Path(args.out)
        earlier = out.read_text().split("\n", 1)[1].lstrip("\n") if out.exists() else ""
        out.write_text(f"# First-hit check\n\n## Run of {when}\n\n{text}\n\n"
                       + "".join(f"- mismatch {m}\n" for m in mismatches) + earlier)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
