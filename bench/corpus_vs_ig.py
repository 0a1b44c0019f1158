"""CLEANN's corpus command vs Captum Integrated Gradients on the same snippets, side by side.

Why: issue 19's goal is stated as a user would see it: `cleann explain imdb --limit N`
with defaults (Prefect, wall clock, start-up included) against Captum
LayerIntegratedGradients (50 steps, the peer a user would run instead) on exactly those N
held-out snippets, same model, in one process of its own (start-up included too). Found
share: CLEANN's rank-0 set stored; IG's own top-k (k <= 3) tokens-to-flip, checked with
a plain float32 forward pass. Every stored CLEANN explanation is re-checked by an
independent float32 forward pass of the same model built here from the stored tokens
(not the tester that found it): removing the set must change the class.

Both commands run one after the other on a quiet machine (load average below 2 at start
is checked and printed), in the same run of this script, on a fresh database into which
the corpus is ingested before the clock starts.

    .venv/bin/python bench/corpus_vs_ig.py --limit 300 [--write]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLEANN = str(ROOT / ".venv" / "bin" / "cleann")
PY = str(ROOT / ".venv" / "bin" / "python")
RESULT = ROOT / "bench" / "results" / "corpus_vs_ig.md"

IG_SCRIPT = r'''
import json, sys, time
t_start = float(sys.argv[3])
import numpy as np, torch
from cleann.models.default import default_sentiment_dir
from cleann.pipeline.batch import TextBackend
from cleann.explainers.samples import sample_from_view
from cleann.explainers import get_explainer
from cleann.sources.text import load_offline
limit, batch = int(sys.argv[1]), int(sys.argv[2])
df = load_offline("rt_snippets")
df = df[df["split"] == "test"].sort_values("doc_id").head(limit)
backend = TextBackend(str(default_sentiment_dir()), fast_rows=False)
ig = get_explainer("ig", n_steps=50, internal_batch_size=batch)
views = backend.infer(df["text"].tolist(), 16, 128)
found, attr_s = [], 0.0
for sid, view in zip(df["doc_id"], views):
    sample = sample_from_view(str(sid), view, backend, "pad")
    exp = ig.explain(sample)
    attr_s += exp.cost.seconds
    ranking = exp.ranking()
    sets = [tuple(sorted(ranking[:k])) for k in range(1, min(3, len(ranking)) + 1)]
    flips = sample.tester(sets) if sets else []
    found.append(bool(any(flips)))
print(json.dumps({"n": len(found), "found": float(np.mean(found)), "attribution_s": attr_s,
                  "wall_s": time.time() - t_start}))
'''

VERIFY_SQL = """
SELECT s.sample_id, s.pred, e.positions, list(t.token_id ORDER BY t.pos) AS ids
FROM samples s JOIN explanations e USING (run_id, sample_id)
JOIN tokens t USING (run_id, sample_id)
WHERE s.run_id = ? AND e.rank = 0
GROUP BY s.sample_id, s.pred, e.positions
"""


def verify(db: str, run_id: str) -> tuple[int, int]:
    """(explanations, confirmed): each rank-0 set removed ([PAD]) and classified in float32."""
    import duckdb
    import torch

    from cleann.models.default import default_sentiment_dir
    from cleann.models.sentiment import load_classifier

    model, tok = load_classifier(default_sentiment_dir())
    con = duckdb.connect(db, read_only=True)
    rows = con.execute(VERIFY_SQL, [run_id]).fetchall()
    con.close()
    confirmed = 0
    for _sid, pred, positions, ids in rows:
        x = torch.tensor([ids], dtype=torch.int64)
        x[0, list(positions)] = tok.pad_token_id
        with torch.no_grad():
            out = model(input_ids=x, attention_mask=torch.ones_like(x), token_type_ids=torch.zeros_like(x)).logits
        confirmed += int(out.argmax(dim=1).item() != pred)
    return len(rows), confirmed


def run_cleann(args, db: str, env: dict) -> dict:
    cmd = [CLEANN, "explain", "imdb", "--limit", str(args.limit), "--db", db, "--format", "json", *args.cleann_args]
    t0 = time.time()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.time() - t0
    if out.returncode not in (0, 3):
        raise SystemExit(f"cleann explain failed ({out.returncode}): {out.stderr[-2000:]}")
    summary = json.loads(out.stdout)
    summary["wall_s"] = wall
    summary["command"] = " ".join(shlex.quote(c) for c in ["cleann", *cmd[1:]])
    return summary


def found_share(db: str, run_id: str) -> dict:
    import duckdb

    con = duckdb.connect(db, read_only=True)
    row = con.execute("SELECT count(*), count(best_size), sum(model_rows), "
                      "count(*) FILTER (WHERE explain_status = 'budget'), "
                      "count(*) FILTER (WHERE explain_status = 'not_found') FROM samples WHERE run_id = ?",
                      [run_id]).fetchone()
    con.close()
    n, found, rows, budget, nf = row
    return {"n": n, "found": found / n, "rows_per_sample": rows / n, "budget": budget, "not_found": nf}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--ig-batch", type=int, default=50, help="IG internal batch (50: Captum's default, all steps at once)")
    ap.add_argument("--cleann-args", nargs=argparse.REMAINDER, default=[],
                    help="extra options for cleann explain (default: none = the defaults)")
    ap.add_argument("--skip-ig", action="store_true")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)

    from cleann.metrics.settings import describe_machine

    load_start = os.getloadavg()
    tmp = tempfile.mkdtemp(prefix="cleann-vs-ig-")
    db = os.path.join(tmp, "bench.duckdb")
    env = {**os.environ, "CLEANN_DB": db}
    subprocess.run([CLEANN, "ingest", "imdb", "--db", db], env=env, check=True, capture_output=True)
    c = run_cleann(args, db, env)
    load_mid = os.getloadavg()
    share = found_share(db, c["run_id"])
    ig = None
    if not args.skip_ig:
        t0 = time.time()
        out = subprocess.run([PY, "-c", IG_SCRIPT, str(args.limit), str(args.ig_batch), str(t0)], env=env,
                             capture_output=True, text=True, cwd=tmp)
        if out.returncode:
            raise SystemExit(f"IG failed: {out.stderr[-2000:]}")
        ig = json.loads(out.stdout.strip().splitlines()[-1])
    load_end = os.getloadavg()
    n_exp, confirmed = verify(db, c["run_id"])
    command = ".venv/bin/python bench/corpus_vs_ig.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    lines = [
        f"- command: `{command}`",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {describe_machine()}, Python "
        f"{platform.python_version()}; load average (1/5/15) {'/'.join(f'{x:.2f}' for x in load_start)} at start, "
        f"{'/'.join(f'{x:.2f}' for x in load_mid)} after CLEANN, {'/'.join(f'{x:.2f}' for x in load_end)} at end",
        f"- the first {args.limit} held-out `rt_snippets` by id, the trained default sentiment model",
        "",
        "| explainer | command | wall clock (start-up included) | found (<= 3 tokens) | model rows / snippet |",
        "|---|---|---:|---:|---:|",
        f"| CLEANN | `{c['command'].replace(db, '$DB')}` | {c['wall_s']:.1f} s | {share['found']:.1%} "
        f"({share['budget']} stopped, {share['not_found']} not found) | {share['rows_per_sample']:.0f} |",
    ]
    if ig:
        lines.append(f"| Captum LayerIntegratedGradients, 50 steps (batch {args.ig_batch}) + top-k flip check, "
                     f"one process | `python -c IG_SCRIPT` | {ig['wall_s']:.1f} s (attributions alone "
                     f"{ig['attribution_s']:.1f} s) | {ig['found']:.1%} | 100 + <= 3 |")
        lines += ["", f"CLEANN / IG wall clock: **{ig['wall_s'] / c['wall_s']:.2f}x faster**; found share "
                      f"{share['found'] - ig['found']:+.1%} points vs IG's top-k."]
    lines += [f"Independent float32 re-check of every stored explanation: {confirmed}/{n_exp} flip the model."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        with RESULT.open("a", encoding="utf-8") as fh:
            fh.write("\n" + text)
        print(f"wrote {RESULT}")
    return 0 if confirmed == n_exp else 1


if __name__ == "__main__":
    sys.exit(main())
