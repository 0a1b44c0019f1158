"""The found-vs-cost curve of CLEANN's first-hit search, and the default budget chosen from it.

Why: a uniform row cap trades found share for time one for one (issue 19). Where the rows
go is visible only per row, so ``collect`` runs the default search (first hit, 12 heads,
sizes 1-3) on held-out samples with a generous row cap and logs every model row in
search order: its size, the verdict, and the *lead* (the predicted class's logit minus
the best other's after the removal; < 0 = the output changed). Any stop rule the search
can apply (a row budget, a per-size budget, "stop before size k+1 when no removal of up
to k nodes came within L logits of the boundary") is then replayed exactly from the log
by ``analyse``: found share against model rows per sample, one curve per rule family.
Baselines (attention, IG, SHAP, the exhaustive oracle) are points with the same
tokens-to-flip tester (k <= 3), measured by ``bench/explainer_cost.py``'s runner on the same
samples; their rows are forward + backward rows + the flip checks.

    .venv/bin/python bench/search_curve.py collect --n 600 --users 300
    .venv/bin/python bench/search_curve.py baselines --n 300 --explainers attention,ig,shap,oracle
    .venv/bin/python bench/search_curve.py analyse --png docs/search_curve.png --write

The first ``--calibrate`` snippets (default 100) are only used to choose the rule; the
curve and the found share given up are reported on the rest (held out from the choice).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
LOG = ROOT / "bench" / "results" / "search_curve_rows.jsonl.gz"
BASE = ROOT / "bench" / "results" / "search_curve_baselines.json"
RESULT = ROOT / "bench" / "results" / "search_curve.md"


def _header(command: str, load_start, load_end) -> list[str]:
    from cleann.metrics.settings import describe_machine

    return [f"- command: `{command}`",
            f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
            f"- machine: {describe_machine()}, Python {platform.python_version()}; load average (1/5/15 min) "
            f"{'/'.join(f'{x:.1f}' for x in load_start)} at start, {'/'.join(f'{x:.1f}' for x in load_end)} at end"]


class LoggingVerdicts:
    """Wraps the sample's ``Verdicts`` call to keep every new row in the order it ran."""

    def __init__(self, verdicts):
        self.inner = verdicts
        self.rows: list[tuple[int, float, int]] = []  # (size in positions, lead, verdict 1/0/-1 unknown)

    def __call__(self, positions, until_hit: bool = False):
        before = set(self.inner.cache) | set(self.inner.leads)
        out = self.inner(positions, until_hit=until_hit)
        for p in dict.fromkeys(positions):
            if p in before:
                continue
            v = self.inner.cache.get(p)
            self.rows.append((len(p), round(float(self.inner.leads.get(p, np.nan)), 4), -1 if v is None else int(v)))
            before.add(p)
        return out

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _collect_kind(kind: str, ids, inputs, model_path: str, cap: int, out, nodes: str) -> None:
    from cleann.causal.multihead import ModelRowBudgetExceeded, Verdicts, first_hit, learn_heads
    from cleann.pipeline.batch import get_backend
    from cleann.pipeline.nodes import head_matrices, plan_nodes

    backend = get_backend("imdb" if kind == "text" else "movielens", model_path)
    t0 = time.perf_counter()
    views = backend.infer(list(inputs), 16, 128)
    infer_share = (time.perf_counter() - t0) / max(1, len(views))
    for i, (sid, view) in enumerate(zip(ids, views)):
        tester = backend.tester(view, "pad")
        heads = [(h, m, plan_nodes(m, view.target, nodes, view.word_ids)) for h, m in head_matrices(view.attention, "all")]
        g0 = time.perf_counter()
        learned = learn_heads(heads, num_samples=backend.hidden_size)
        graph_s = time.perf_counter() - g0
        log = LoggingVerdicts(Verdicts(tester, cap))
        s0 = time.perf_counter()
        try:
            hit = first_hit(learned, log, max_set_size=3)
            status = "ok" if hit is not None else "not_found"
        except ModelRowBudgetExceeded:
            hit, status = None, "budget"
        search_s = time.perf_counter() - s0
        record = {"kind": kind, "id": sid, "n": int(len(view.token_ids)), "pred": int(view.pred),
                  "prob": None if view.probs is None else float(view.probs[view.pred]), "status": status,
                  "size": None if hit is None else len(hit[1]), "infer_s": infer_share, "graph_s": graph_s,
                  "search_s": search_s, "tester_s": log.inner.seconds,
                  "rechecked": int(getattr(tester, "rechecked", 0)),
                  "recheck_s": float(getattr(tester, "recheck_seconds", 0.0)),
                  "rows": log.rows}
        out.write(json.dumps(record) + "\n")
        if (i + 1) % 50 == 0:
            print(f"[{kind}] {i + 1}/{len(views)} load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)


def _fast_rows(model: str | None):
    from cleann.models.default import default_sentiment_dir
    from cleann.pipeline.batch import get_backend

    return get_backend("imdb", model or str(default_sentiment_dir())).fast_rows


def collect(args) -> None:
    from explainer_cost import _rec_inputs, _text_inputs

    from cleann.models.default import default_bert4rec_dir, default_sentiment_dir

    load_start = os.getloadavg()
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(LOG, "wt", encoding="utf-8") as out:
        if args.n:
            ids, texts = _text_inputs("rt_snippets", args.n)
            _collect_kind("text", ids, texts, args.model or str(default_sentiment_dir()), args.cap, out, "all")
        if args.users:
            ids, hists = _rec_inputs(args.users)
            _collect_kind("rec", ids, hists, args.rec_model or str(default_bert4rec_dir()), args.cap, out,
                          args.rec_nodes)
        fast = _fast_rows(args.model)
        spreads = np.asarray(list(fast.spreads)) if fast is not None else np.zeros(0)
        meta = {"meta": True, "fast": type(fast.model).__name__ if fast else None,
                "spread": {"rows": int(len(spreads)), "max": float(spreads.max()) if len(spreads) else None,
                           "q": {str(q): float(np.quantile(spreads, q)) for q in (0.5, 0.9, 0.99, 0.999)}
                           if len(spreads) else {}, "margin": float(fast.margin) if fast else None}, "argv": sys.argv[1:], "load_start": load_start, "load_end": os.getloadavg(),
                "date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"}
        out.write(json.dumps(meta) + "\n")
    print(f"wrote {LOG}")


def baselines(args) -> None:
    """IG, SHAP, attention and the oracle on the same samples, tokens-to-flip k <= 3."""
    from explainer_cost import _model_paths, _rec_inputs, _text_inputs, run_kind

    ns = argparse.Namespace(tiny=False, model=args.model, rec_model=args.rec_model, users=args.users,
                            max_length=128, heads="all", max_set_size=3, n_steps=50, ig_batch_size=25,
                            shap_max_evals=500, oracle_max_rows=args.oracle_max_rows, search=None,
                            cleann_max_rows=None, max_minutes=args.max_minutes)
    names = [n for n in args.explainers.split(",") if n]
    load_start = os.getloadavg()
    text_model, rec_model, _ = _model_paths(ns, Path("/tmp"))
    out = {"load_start": load_start, "date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", "kinds": {}}
    if args.n:
        ids, texts = _text_inputs("rt_snippets", args.n)
        out["kinds"]["text"] = run_kind("text", ids, texts, text_model, names, ns)
    if args.users:
        from cleann.explainers import explainer_class

        ids, hists = _rec_inputs(args.users)
        out["kinds"]["rec"] = run_kind("rec", ids, hists, rec_model,
                                       [n for n in names if "rec" in explainer_class(n).kinds], ns)
    out["load_end"] = os.getloadavg()
    out["argv"] = sys.argv[1:]
    BASE.write_text(json.dumps(out, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
    print(f"wrote {BASE}")


# --- replaying stop rules on the log


def replay(rec: dict, *, budget: int | None = None, lead: float | None = None, ratio: float | None = None,
           size_budget: dict[int, int] | None = None, chunk: int = 16, from_size: int = 3) -> tuple[bool, int]:
    """(found, rows) of one logged sample under a stop rule, exactly as the search applies it.

    ``budget``: rows per sample; ``size_budget``: rows per size; before each size k >=
    ``from_size``: ``lead`` stops when the smallest lead over every earlier row exceeds it,
    ``ratio`` when it exceeds ``ratio`` x the unmodified input's lead (the default rule,
    ``cleann.causal.multihead.first_hit``). Rows within a size run in chunks of ``chunk``
    (a found sample ends with its chunk).
    """
    rows = rec["rows"]
    sizes = np.array([r[0] for r in rows], dtype=np.int64)
    leads = np.array([r[1] for r in rows], dtype=np.float64)
    verdict = np.array([r[2] for r in rows], dtype=np.int64)
    p = rec.get("prob")
    original = float(np.log(p / max(1 - p, 1e-300))) if p is not None and p < 1 else np.inf
    used, min_lead = 0, np.inf
    for k in (1, 2, 3):
        idx = np.flatnonzero(sizes == k)
        if k >= from_size and lead is not None and min_lead > lead:
            return False, used
        if k >= from_size and ratio is not None and min_lead > ratio * original:
            return False, used
        cap = len(idx)
        if size_budget and k in size_budget:
            cap = min(cap, size_budget[k])
        if budget is not None:
            cap = min(cap, max(0, budget - used))
        hits = np.flatnonzero(verdict[idx] == 1)
        if len(hits) and hits[0] < cap:
            end = min(cap, (hits[0] // chunk + 1) * chunk)
            return True, used + end
        used += cap
        if len(idx):
            min_lead = min(min_lead, float(np.nanmin(leads[idx])))
        if cap < len(idx):  # stopped inside this size
            return False, used
    return False, used


def _curve(records, **rule) -> tuple[float, float]:
    res = [replay(r, **rule) for r in records]
    return float(np.mean([f for f, _ in res])), float(np.mean([u for _, u in res]))


def analyse(args) -> None:
    recs = []
    meta = {}
    with gzip.open(LOG, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if r.get("meta"):
                meta = r
            else:
                recs.append(r)
    lines = ["# The found-vs-cost curve of the first-hit search", ""]
    lines += [f"- log: `bench/search_curve.py {' '.join(meta.get('argv', []))}` ({meta.get('date')}, load "
              f"{'/'.join(f'{x:.1f}' for x in meta.get('load_start', []))} -> "
              f"{'/'.join(f'{x:.1f}' for x in meta.get('load_end', []))})",
              f"- analysis: `.venv/bin/python bench/search_curve.py {' '.join(shlex.quote(a) for a in sys.argv[1:])}`"]
    curves = {}
    for kind in ("text", "rec"):
        rs = [r for r in recs if r["kind"] == kind]
        if not rs:
            continue
        cal, held = rs[: args.calibrate], rs[args.calibrate:] or rs
        t_row = sum(r["tester_s"] for r in rs) / max(1, sum(len(r["rows"]) for r in rs))
        rech = sum(r["rechecked"] for r in rs) / max(1, sum(len(r["rows"]) for r in rs))
        rech_s = sum(r["recheck_s"] for r in rs) / max(1e-9, sum(r["tester_s"] for r in rs))
        full_found, full_rows = _curve(held)
        lines += ["", f"## {kind}: {len(rs)} samples ({len(cal)} to choose the rule, {len(held)} held out)", "",
                  f"Logged search (max size 3, cap {max(len(r['rows']) for r in rs)} rows): found "
                  f"{full_found:.1%}, {full_rows:.0f} rows per sample; tester {t_row * 1000:.2f} ms per row "
                  f"(all in), float32 re-checks {rech:.1%} of rows and {rech_s:.0%} of tester time; graphs "
                  f"{np.mean([r['graph_s'] for r in rs]) * 1000:.0f} ms, inference "
                  f"{np.mean([r['infer_s'] for r in rs]) * 1000:.0f} ms per sample.", ""]
        by = {}
        for r in rs:
            key = r["status"] if r["status"] != "ok" else f"size {r['size']}"
            by.setdefault(key, []).append(len(r["rows"]))
        lines += ["| outcome (uncapped but for the log cap) | samples | rows / sample |", "|---|---:|---:|"]
        for key in sorted(by):
            lines.append(f"| {key} | {len(by[key])} | {np.mean(by[key]):.0f} |")
        fam = {
            "row budget": [dict(budget=b) for b in (25, 50, 100, 150, 200, 300, 400, 600, 800, 1000, 1500, 2000)],
            "lead stop before size 3 (absolute)": [dict(lead=x, budget=2000) for x in (0.5, 1, 1.5, 2, 3, 4, 6)],
            "lead stop before size 2 and 3 (absolute)": [dict(lead=x, budget=2000, from_size=2)
                                                         for x in (1, 2, 3, 4, 5, 6)],
            "ratio stop before size 3 (the default rule)": [dict(ratio=x, budget=2000)
                                                            for x in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8)],
            "ratio stop + size-3 row budget": [dict(ratio=x, size_budget={3: b}, budget=2000)
                                               for x in (0.3, 0.4, 0.5, 0.6) for b in (200, 400, 800)],
        }
        curves[kind] = {}
        lines += ["", "| rule | found (choice set) | rows (choice set) | found (held out) | rows (held out) |",
                  "|---|---:|---:|---:|---:|"]
        for name, rules in fam.items():
            pts = []
            for rule in rules:
                cf, cr = _curve(cal, **rule)
                hf, hr = _curve(held, **rule)
                pts.append((hr, hf, rule))
                lines.append(f"| {name}: {_rule_text(rule)} | {cf:.1%} | {cr:.0f} | {hf:.1%} | {hr:.0f} |")
            curves[kind][name] = pts
        curves[kind]["_full"] = (full_rows, full_found)
        curves[kind]["_records"] = rs
    base = json.loads(BASE.read_text()) if BASE.exists() else {}
    points = {}
    for kind, run in base.get("kinds", {}).items():
        for name, r in run["results"].items():
            sizes = r["size"]
            flip_rows = [min(3, s) if s else 3 for s in sizes]
            rows = np.mean(np.add(np.add(r["fwd"], r["bwd"]), flip_rows))
            points.setdefault(kind, {})[name] = (float(rows), float(np.mean(r["found"])), int(run["n"]))
    if points:
        lines += ["", "## Baselines on the first samples of the same split (tokens-to-flip, k <= 3)", "",
                  f"`bench/search_curve.py {' '.join(base.get('argv', []))}` ({base.get('date')}, load "
                  f"{'/'.join(f'{x:.1f}' for x in base.get('load_start', []))} -> "
                  f"{'/'.join(f'{x:.1f}' for x in base.get('load_end', []))})", "",
                  "| kind | explainer | samples | found | model rows / sample (fwd + bwd + flip checks) |",
                  "|---|---|---:|---:|---:|"]
        for kind, pts in points.items():
            for name, (rows, found, n) in pts.items():
                lines.append(f"| {kind} | {name} | {n} | {found:.1%} | {rows:.0f} |")
    if args.png:
        _plot(curves, points, Path(args.png))
        lines += ["", f"Plot: `{args.png}`"]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        RESULT.write_text(text, encoding="utf-8")
        print(f"wrote {RESULT}")


def _rule_text(rule: dict) -> str:
    parts = []
    if "lead" in rule:
        parts.append(f"lead > {rule['lead']:g}")
    if "ratio" in rule:
        parts.append(f"lead > {rule['ratio']:g} x original")
    if "size_budget" in rule:
        parts.append(", ".join(f"size {k} <= {v}" for k, v in rule["size_budget"].items()))
    if "budget" in rule:
        parts.append(f"<= {rule['budget']} rows")
    return "; ".join(parts)


def _plot(curves, points, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(curves)
    fig, axes = plt.subplots(1, len(kinds), figsize=(6.5 * len(kinds), 4.6), squeeze=False)
    marks = {"attention": "s", "ig": "^", "shap": "D", "oracle": "*", "gxi": "v", "rollout": "P"}
    for ax, kind in zip(axes[0], kinds):
        for name, pts in curves[kind].items():
            if name.startswith("_"):
                continue
            if name == "ratio stop + size-3 row budget":
                xs, ys = zip(*[(r, f) for r, f, _ in pts])
                ax.scatter(xs, ys, s=12, alpha=0.6, label=f"CLEANN first hit: {name}")
                continue
            pts = sorted(pts, key=lambda p: p[0])
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, label=f"CLEANN first hit: {name}")
        pts_kind = points.get(kind, {})
        if pts_kind:  # the default rule on exactly the baselines' samples (the first n)
            n = max(n for _, _, n in pts_kind.values())
            same = curves[kind]["_records"][:n]
            line = sorted(_curve(same, ratio=x, budget=2000)[::-1] for x in (0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8))
            ax.plot([p[0] for p in line], [p[1] for p in line], ls="--", color="black", marker=".",
                    label=f"CLEANN first hit, ratio stop, on the baselines' {n} samples")
        for name, (rows, found, n) in pts_kind.items():
            if name == "cleann":
                continue
            ax.scatter([rows], [found], marker=marks.get(name, "x"), s=60, label=f"{name} (n={n})", zorder=3)
        ax.set_xscale("log")
        ax.set_xlabel("model rows per sample (log)")
        ax.set_ylabel("found share (a set of <= 3 that flips the output)")
        ax.set_title({"text": "rt_snippets: 500 held-out snippets (curves), the first 74-100 (points, dashed)", "rec": "ml-100k users"}.get(kind, kind))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6.5, loc="upper left" if kind == "text" else "lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--n", type=int, default=600)
    c.add_argument("--users", type=int, default=0)
    c.add_argument("--cap", type=int, default=4000, help="rows per sample in the log")
    c.add_argument("--model")
    c.add_argument("--rec-model")
    c.add_argument("--rec-nodes", default="all")
    b = sub.add_parser("baselines")
    b.add_argument("--n", type=int, default=300)
    b.add_argument("--users", type=int, default=0)
    b.add_argument("--explainers", default="attention,ig,shap,oracle")
    b.add_argument("--oracle-max-rows", type=int, default=3000)
    b.add_argument("--max-minutes", type=float)
    b.add_argument("--model")
    b.add_argument("--rec-model")
    a = sub.add_parser("analyse")
    a.add_argument("--calibrate", type=int, default=100)
    a.add_argument("--png")
    a.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    {"collect": collect, "baselines": baselines, "analyse": analyse}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
