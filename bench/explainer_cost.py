"""Explainer cost: CLEANN explanations/s vs Captum IG (n_steps=50) vs SHAP Partition.

Why one script, one process: the ratio is only meaningful on the same model, the same
inputs and the same machine load, so all three run here on the same inferred samples,
interleaved per sample (sample i: CLEANN, IG, SHAP) so background load hits all alike,
after one uncounted warm-up sample (imports, numba compilation in SHAP).
CLEANN's cost is the pipeline's per-sample work (graph learning and explanation search
for every requested head, tester forward passes included); the shared inference pass is
excluded for all three.

    .venv/bin/python bench/explainer_cost.py --n 20 --write
"""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _model(path: str | None) -> tuple[str, str]:
    """(checkpoint folder, how it was chosen)."""
    if path:
        return path, "given with --model"
    from cleann.models.default import default_sentiment_dir, is_complete

    folder = default_sentiment_dir()
    if is_complete(folder):
        return str(folder), "the default fine-tuned MiniLM (cached)"
    raise SystemExit(f"no cached default model at {folder}; train it (`cleann train sentiment`) or pass --model")


def _texts(corpus: str, n: int) -> tuple[list[str], list[str]]:
    from cleann.sources.text import load_offline

    df = load_offline(corpus)
    df = df[df["split"] == "test"].sort_values("doc_id").head(n)
    return df["doc_id"].tolist(), df["text"].tolist()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="classifier folder (default: the cached default model)")
    ap.add_argument("--corpus", default="rt_snippets")
    ap.add_argument("--n", type=int, default=20, help="samples (first N of the test split by id)")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--heads", default="all", help="CLEANN heads: all | mean | list (default all)")
    ap.add_argument("--max-set-size", type=int, default=3,
                    help="CLEANN search budget (default 3; 0 = none: exponential on samples that never flip)")
    ap.add_argument("--search", choices=("head", "sample"), default="head",
                    help="CLEANN search mode (pipeline --search; default head)")
    ap.add_argument("--n-steps", type=int, default=50)
    ap.add_argument("--ig-batch-size", type=int, default=25)
    ap.add_argument("--shap-max-evals", type=int, default=500)
    ap.add_argument("--skip-shap", action="store_true")
    ap.add_argument("--write", action="store_true", help="append to bench/results/explainer_cost.md")
    args = ap.parse_args(argv)

    import torch

    load_at_start = os.getloadavg()[0]

    from cleann.baselines.gradients import explain_ig
    from cleann.baselines.inputs import text_input
    from cleann.causal.explain import explain_attention
    from cleann.metrics.settings import describe_machine
    from cleann.metrics.stage import visible_text
    from cleann.models.sentiment import infer, load_classifier
    from cleann.models.testers import SentimentTester
    from cleann.pipeline.params import ExplainParams
    from cleann.pipeline.stage import explain_view
    from cleann.pipeline.backends import SampleView

    model_path, chosen = _model(args.model)
    model, tok = load_classifier(model_path)
    ids, texts = _texts(args.corpus, args.n)
    infs = infer(model, tok, texts, max_length=args.max_length)
    params = ExplainParams(corpus_name=args.corpus, heads=args.heads, max_length=args.max_length,
                           max_set_size=args.max_set_size or None, search=args.search)
    n_hidden = int(model.config.hidden_size)
    cost = {"cleann": [], "ig": [], "shap": []}
    found = 0
    for i, (text, inf) in enumerate(zip([texts[0], *texts], [infs[0], *infs])):  # item 0: warm-up
        warm_up = i == 0
        view = SampleView(attention=inf.attention, target=0, token_ids=inf.token_ids, tokens=inf.tokens,
                          word_ids=inf.word_ids, special=inf.special_mask, pred=inf.pred, probs=inf.probs,
                          truncated=inf.truncated, raw=inf)
        t0 = time.perf_counter()
        outcomes = explain_view(view, SentimentTester(model, tok, inf, removal=params.removal), params,
                                n_hidden, explain_attention)
        seconds = {"cleann": time.perf_counter() - t0}
        mi = text_input(model, tok, inf, params.removal)
        seconds["ig"] = explain_ig(mi, n_steps=args.n_steps, internal_batch_size=args.ig_batch_size).seconds
        if not args.skip_shap:
            from cleann.baselines.shap_partition import explain_shap

            shown = visible_text(tok, text, args.max_length)
            seconds["shap"] = explain_shap(mi, tok, shown, params.removal, args.shap_max_evals).seconds
        if not warm_up:  # the first pass compiles / imports (numba for SHAP) and is not counted
            found += any(o.sets for o in outcomes)
            for k, v in seconds.items():
                cost[k].append(v)
    rate = {k: len(v) / sum(v) for k, v in cost.items() if v}
    lengths = [len(i.token_ids) for i in infs]
    command = ".venv/bin/python bench/explainer_cost.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    lines = [
        "# Explainer cost: CLEANN vs Captum IG vs SHAP Partition",
        "",
        f"- command: `{command}`",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {describe_machine()}, load average {load_at_start:.1f} at start, Python {platform.python_version()}",
        f"- model: `{model_path}` ({chosen}; hidden {n_hidden}, {model.config.num_hidden_layers} layers, "
        f"{model.config.num_attention_heads} heads)",
        f"- inputs: first {len(texts)} test samples of `{args.corpus}` by doc id, max_length {args.max_length}; "
        f"tokens per sample median {int(np.median(lengths))}, max {max(lengths)}",
        f"- CLEANN: pipeline defaults (heads={args.heads}, nodes=all, ICD, alpha=0.01, removal=pad), search={args.search}, "
        f"max_set_size={params.max_set_size}, "
        f"explanation found for {found}/{len(texts)} samples",
        f"- IG: Captum LayerIntegratedGradients, n_steps={args.n_steps}, internal batch {args.ig_batch_size}; "
        f"SHAP: Partition explainer, Text masker, max_evals={args.shap_max_evals}",
        f"- torch threads: {torch.get_num_threads()}",
        "",
        "| explainer | explanations/s | s/explanation (mean) | CLEANN speed-up |",
        "|---|---:|---:|---:|",
    ]
    for k, r in rate.items():
        lines.append(f"| {k} | {r:.3f} | {1 / r:.3f} | {rate['cleann'] / r:.2f}× |")
    goals = [f"CLEANN / IG = {rate['cleann'] / rate['ig']:.2f}× (goal ≥ 3×: "
             f"{'met' if rate['cleann'] >= 3 * rate['ig'] else 'missed'})"]
    if "shap" in rate:
        goals.append(f"CLEANN / SHAP = {rate['cleann'] / rate['shap']:.2f}× (goal ≥ 10×: "
                     f"{'met' if rate['cleann'] >= 10 * rate['shap'] else 'missed'})")
    lines += ["", "Goals: " + "; ".join(goals) + "."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        out = ROOT / "bench" / "results" / "explainer_cost.md"
        with out.open("a", encoding="utf-8") as fh:
            fh.write(text + "\n")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
