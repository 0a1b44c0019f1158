"""Explainer cost side by side: CLEANN vs Captum IG vs SHAP Partition vs the exhaustive oracle.

Why one script, one process: found share, size and seconds are only comparable on the
same model, the same inputs, the same budget and the same machine load, so every
explainer runs here on the same inferred samples, interleaved per sample (sample i:
CLEANN, IG, SHAP, oracle) so background load hits all alike, after one uncounted
warm-up sample (imports, numba compilation in SHAP). Every explainer is built from the
registry (``cleann.explainers``) and timed by the same base class; the seconds per
explanation add the sample's share of the batched inference pass, which every explainer
needs (CLEANN and the oracle reuse its attention / prediction, IG and SHAP its model).

"found": CLEANN and the oracle found a set within ``--max-set-size``; IG and SHAP found a
flipping top-k with k <= ``--max-set-size`` (tokens-to-flip, same removal tester). The
oracle tries every set of each size up to the budget (``cleann.explainers.oracle``), so
it is the ceiling of found and of size; ``size - oracle`` is paired on the samples both
found. Text: the first N held-out ``rt_snippets`` by doc id; recommendation: the first U
ml-100k users by id, last interaction held out (as ``cleann explain movielens``); SHAP
does not apply there.

    .venv/bin/python bench/explainer_cost.py --n 300 --users 100 --write
    .venv/bin/python bench/explainer_cost.py --tiny --n 5 --users 5      # smoke run on tiny models
"""
from __future__ import annotations

import argparse
import inspect
import os
import platform
import shlex
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _text_inputs(corpus: str, n: int) -> tuple[list[str], list[str]]:
    from cleann.sources.text import load_offline

    df = load_offline(corpus)
    df = df[df["split"] == "test"].sort_values("doc_id").head(n)
    return df["doc_id"].tolist(), df["text"].tolist()


def _rec_inputs(n: int) -> tuple[list[str], list[np.ndarray]]:
    """First ``n`` ml-100k users by id; history in (ts, item) order without the held-out last item."""
    from cleann.sources.movielens import load_offline_ml100k

    inter, _ = load_offline_ml100k()
    users = sorted(inter["user_id"].unique())[:n]
    inter = inter[inter["user_id"].isin(users)].sort_values(["user_id", "ts", "item_id"])
    hist = inter.groupby("user_id")["item_id"].apply(lambda s: np.asarray(s, dtype=np.int64)[:-1])
    return [str(u) for u in users], [hist[u] for u in users]


def _model_paths(args, tmp: Path) -> tuple[str, str, str]:
    """(text model, rec model, how they were chosen)."""
    if args.tiny:
        from cleann.models.tiny import make_tiny_bert4rec, make_tiny_classifier

        return (str(make_tiny_classifier(tmp / "text", seed=3)), str(make_tiny_bert4rec(tmp / "rec", n_items=40)),
                "tiny random models (--tiny)")
    from cleann.models.default import default_bert4rec_dir, default_sentiment_dir, is_complete

    text, rec = args.model or str(default_sentiment_dir()), args.rec_model or str(default_bert4rec_dir())
    for path, what in ((text, "sentiment"), (rec, "bert4rec")):
        if not args.model and not is_complete(Path(path)) and (what == "sentiment" or args.users):
            raise SystemExit(f"no trained model at {path}; `cleann train {what}` or pass --model/--rec-model")
    return text, rec, "the default trained models (cached)" if not (args.model or args.rec_model) else "given"


def _build(name: str, options: dict):
    from cleann.explainers import explainer_class

    accepted = inspect.signature(explainer_class(name).__init__).parameters
    return explainer_class(name)(**{k: v for k, v in options.items() if k in accepted})


def _found_size(exp, sample, backend, budget: int, removal: str) -> tuple[bool, int | None]:
    """Set explainers: their best set; rankings: smallest flipping top-k, k <= budget
    (checked with a fresh tester so the explainers' own row counts stay theirs)."""
    from cleann.metrics.flip import first_flip, prefixes

    if not exp.is_ranking:
        return (exp.best_set is not None), (len(exp.best_set) if exp.best_set else None)
    ranking = exp.ranking()
    k = min(budget, len(ranking))
    hit = first_flip(backend.tester(sample.view, removal)(prefixes(ranking, 1, k + 1))) if k else None
    return hit is not None, hit


def run_kind(kind: str, ids, inputs, model_path: str, names: list[str], args) -> dict:
    """Every explainer on every sample of one kind; per explainer lists of found/size/seconds."""
    from cleann.explainers.samples import sample_from_view
    from cleann.metrics.batch import visible_text
    from cleann.pipeline.batch import get_backend

    backend = get_backend("imdb" if kind == "text" else "movielens", model_path)
    t0 = time.perf_counter()
    views = backend.infer(list(inputs), 16, args.max_length)
    infer_share = (time.perf_counter() - t0) / max(1, len(views))
    options = {"num_samples": backend.hidden_size, "heads": args.heads, "max_set_size": args.max_set_size,
               "n_steps": args.n_steps, "internal_batch_size": args.ig_batch_size, "max_evals": args.shap_max_evals,
               "max_rows": args.oracle_max_rows}
    if args.search:
        options["search"] = args.search
    if args.cleann_max_rows:
        options["max_model_rows"] = args.cleann_max_rows
    explainers = {n: _build(n, options) for n in names}
    out = {n: {"found": [], "size": [], "seconds": [], "fwd": [], "bwd": [], "status": []} for n in names}
    removal = "pad"
    order = [0, *range(len(views))]  # item 0 twice: the first pass warms up and is not counted
    start, done = time.perf_counter(), 0
    for i, idx in enumerate(order):
        if i == 1:
            start = time.perf_counter()  # the limit counts from after the warm-up
        if args.max_minutes and done and time.perf_counter() - start > 60 * args.max_minutes:
            print(f"[{kind}] time limit: stopping after {done} samples", file=sys.stderr, flush=True)
            break
        view = views[idx]
        text = visible_text(backend.tokenizer, inputs[idx], args.max_length) if kind == "text" else None
        for name, explainer in explainers.items():
            sample = sample_from_view(ids[idx], view, backend, removal, text)
            exp = explainer.explain(sample)
            found, size = _found_size(exp, sample, backend, args.max_set_size, removal)
            if i == 0:
                continue
            rec = out[name]
            rec["found"].append(found)
            rec["size"].append(size)
            rec["seconds"].append(exp.cost.seconds + infer_share)
            rec["fwd"].append(exp.cost.forward_rows)
            rec["bwd"].append(exp.cost.backward_rows)
            rec["status"].append(exp.status)
        done += i > 0
        if i and i % 25 == 0:
            print(f"[{kind}] {i}/{len(views)} samples, load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
    lengths = [len(v.token_ids) for v in views[:done]]
    return {"results": out, "infer_share": infer_share, "n": done, "lengths": lengths}


def table(run: dict) -> list[str]:
    """Markdown rows: found, found/oracle, mean size, size - oracle, seconds, rows, speed-up."""
    res = run["results"]
    oracle = res.get("oracle")
    cleann_s = np.mean(res["cleann"]["seconds"]) if "cleann" in res else None
    head = ["explainer", "found", "found / oracle", "mean size", "size − oracle (both found)",
            "s / explanation (incl. inference)", "fwd rows", "bwd rows", "budget stops", "× CLEANN's time"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for name, r in res.items():
        found = float(np.mean(r["found"]))
        sizes = [s for s in r["size"] if s is not None]
        ratio = "–"
        extra = "–"
        if oracle is not None:
            o_found = float(np.mean(oracle["found"]))
            ratio = f"{found / o_found:.0%}" if o_found else "–"
            pairs = [(s, o) for s, o in zip(r["size"], oracle["size"]) if s is not None and o is not None]
            extra = f"{np.mean([s - o for s, o in pairs]):+.2f} (n={len(pairs)})" if pairs else "–"
        secs = float(np.mean(r["seconds"]))
        speed = f"{secs / cleann_s:.2f}×" if cleann_s else "–"
        lines.append(f"| {name} | {found:.1%} ({sum(r['found'])}/{len(r['found'])}) | {ratio} | "
                     f"{f'{np.mean(sizes):.2f}' if sizes else '–'} | {extra} | {secs:.3f} | "
                     f"{np.mean(r['fwd']):.0f} | {np.mean(r['bwd']):.0f} | {r['status'].count('budget')} | {speed} |")
    return lines


def goals(run: dict) -> str:
    res = run["results"]
    if "cleann" not in res:
        return ""
    c = np.mean(res["cleann"]["seconds"])
    parts = []
    for name, factor in (("ig", 3), ("shap", 10)):
        if name in res:
            r = np.mean(res[name]["seconds"]) / c
            verdict = "met" if r >= factor else "missed"
            parts.append(f"CLEANN is {r:.2f}× faster than {name} (goal ≥ {factor}×: {verdict})")
    if "oracle" in res:
        o = np.mean(res["oracle"]["found"])
        share = np.mean(res["cleann"]["found"]) / o if o else float("nan")
        parts.append(f"CLEANN finds {share:.0%} of what the oracle finds (goal ≥ 95 %: "
                     f"{'met' if share >= 0.95 else 'missed'})")
    return "Goals: " + "; ".join(parts) + "."


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="classifier folder (default: the cached default model)")
    ap.add_argument("--rec-model", help="BERT4Rec folder (default: the cached default ml-100k model)")
    ap.add_argument("--tiny", action="store_true", help="tiny random models (smoke run; numbers mean nothing)")
    ap.add_argument("--corpus", default="rt_snippets")
    ap.add_argument("--n", type=int, default=20, help="text samples (first N of the test split by id; 0 = none)")
    ap.add_argument("--users", type=int, default=0, help="ml-100k users (first U by id; 0 = none)")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--heads", default="all", help="CLEANN heads: all | mean | list (default all)")
    ap.add_argument("--max-set-size", type=int, default=2,
                    help="the budget of every explainer: CLEANN's and the oracle's largest set, the "
                         "rankings' largest flipping top-k (default 2)")
    ap.add_argument("--search", help="CLEANN search mode (default: the explainer's default)")
    ap.add_argument("--cleann-max-rows", type=int, help="CLEANN's model-row budget (default: its default)")
    ap.add_argument("--oracle-max-rows", type=int, default=5000, help="the oracle's model-row budget per sample")
    ap.add_argument("--explainers", default="cleann,ig,shap,oracle")
    ap.add_argument("--n-steps", type=int, default=50)
    ap.add_argument("--ig-batch-size", type=int, default=25)
    ap.add_argument("--shap-max-evals", type=int, default=500)
    ap.add_argument("--max-minutes", type=float, help="per kind: stop taking new samples after this long "
                                                       "(the table says how many were done)")
    ap.add_argument("--write", action="store_true", help="append to bench/results/explainer_cost.md")
    args = ap.parse_args(argv)

    import torch

    from cleann.explainers import explainer_class
    from cleann.metrics.settings import describe_machine

    load_start, nice = os.getloadavg(), os.nice(0)
    names = [n.strip() for n in args.explainers.split(",") if n.strip()]
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        text_model, rec_model, chosen = _model_paths(args, Path(tmp))
        if args.n:
            ids, texts = _text_inputs(args.corpus, args.n)
            runs["text"] = run_kind("text", ids, texts, text_model, names, args)
        if args.users:
            if args.tiny:
                rng = np.random.default_rng(0)
                ids = [str(u) for u in range(1, args.users + 1)]
                hists = [rng.choice(np.arange(1, 41), size=int(rng.integers(6, 15)), replace=False) for _ in ids]
            else:
                ids, hists = _rec_inputs(args.users)
            rec_names = [n for n in names if "rec" in explainer_class(n).kinds]
            runs["rec"] = run_kind("rec", ids, hists, rec_model, rec_names, args)
    load_end = os.getloadavg()
    command = ".venv/bin/python bench/explainer_cost.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    lines = [
        "# Explainer cost side by side: CLEANN, IG, SHAP, oracle",
        "",
        f"- command: `{command}`",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; nice {nice}",
        f"- machine: {describe_machine()}, Python {platform.python_version()}; load average (1/5/15 min) "
        f"{'/'.join(f'{x:.1f}' for x in load_start)} at start, {'/'.join(f'{x:.1f}' for x in load_end)} at end",
        f"- models: {chosen}: text `{text_model}`" + (f", rec `{rec_model}`" if "rec" in runs else ""),
        f"- budget: max set size {args.max_set_size} for all (rankings: flipping top-k, k ≤ {args.max_set_size}); "
        f"CLEANN heads={args.heads}, search={args.search or 'default'}; IG n_steps={args.n_steps} "
        f"(batch {args.ig_batch_size}); SHAP Partition max_evals={args.shap_max_evals}; oracle row budget "
        f"{args.oracle_max_rows}; torch threads {torch.get_num_threads()}",
    ]
    for kind, run in runs.items():
        what = (f"first {run['n']} test samples of `{args.corpus}` by doc id, max_length {args.max_length}"
                if kind == "text" else f"first {run['n']} ml-100k users by id, last item held out")
        lines += ["", f"## {kind}: {what}", "",
                  f"positions per sample (tokens / history + target) median {int(np.median(run['lengths']))}, "
                  f"max {max(run['lengths'])}; "
                  f"inference share {run['infer_share'] * 1000:.1f} ms per sample (in every row's seconds)", ""]
        lines += table(run)
        lines += ["", goals(run)]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        out = ROOT / "bench" / "results" / "explainer_cost.md"
        with out.open("a", encoding="utf-8") as fh:
            fh.write("\n" + text)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
