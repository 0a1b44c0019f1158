"""Graph-learning speed: our ICD vs causal-learn's FCI on the same CI test.

Why a forked child per graph: a slow graph (FCI at n >= 100) must not stall the
benchmark, so every graph runs in a forked process under a wall-clock budget; the time
reported is measured inside the child (correlation + CI test + learner), excluding fork.

    .venv/bin/python bench/graph_speed.py                       # the committed table
    .venv/bin/python bench/graph_speed.py --sizes 10 30 --seeds 2 --timeout 30
"""
from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import bench_attention  # noqa: E402

import cleann.causal.fci  # noqa: E402,F401  (imported before forking: not timed per graph)
import cleann.causal.icd  # noqa: E402,F401
from cleann.causal.explain import learn_graph  # noqa: E402


def _child(conn, size: int, samples: int, seed: int, alpha: float, learner: str, cap: int | None) -> None:
    if learner == "icd-pure":  # the pure-Python/numpy ICD (before the numba kernels)
        os.environ["CLEANN_ICD_PURE"] = "1"
        learner = "icd"
    attention = bench_attention(size, seed)
    start = time.perf_counter()
    graph = learn_graph(attention, num_samples=samples, alpha=alpha, learner=learner, max_cond_size=cap)
    conn.send((time.perf_counter() - start, graph.ci_tests, graph.pag.n_edges()))
    conn.close()


def run_one(size: int, samples: int, seed: int, alpha: float, learner: str, cap: int | None, timeout: float):
    """(seconds, ci_tests, edges) or None when the graph did not finish within ``timeout``."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, size, samples, seed, alpha, learner, cap))
    proc.start()
    child.close()
    result = parent.recv() if parent.poll(timeout) else None
    if result is None:
        proc.kill()
    proc.join()
    return result


def _cell(runs: list, timeout: float) -> tuple[str, str, str, float | None]:
    """Median seconds, CI tests, edges; a timeout (``None``) makes the size's cell '> timeout'."""
    done = [r for r in runs if r is not None]
    if not runs:
        return "skipped (smaller n timed out)", "", "", None
    if len(done) < len(runs):
        return f"> {timeout:g} (seed {len(done)} timed out; later seeds skipped)", "", "", None
    med = statistics.median(r[0] for r in done)
    tests = statistics.median(r[1] for r in done)
    edges = statistics.median(r[2] for r in done)
    return f"{med:.3f}", f"{tests:,.0f}", f"{edges:g}", med


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return f"{model}, {mp.cpu_count()} CPUs visible"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 20, 30, 50, 100, 200])
    parser.add_argument("--samples", type=int, nargs="+", default=[384, 768], help="N of the CI test")
    parser.add_argument("--seeds", type=int, default=3, help="graphs per (n, N): seeds 0..seeds-1")
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per graph")
    parser.add_argument("--cap", type=int, default=None, help="ICD max_cond_size (default: no cap)")
    parser.add_argument("--learners", nargs="+", default=["icd-pure", "icd", "fci"], choices=["icd-pure", "icd", "fci"],
                        help="icd: compiled kernels (default ICD); icd-pure: CLEANN_ICD_PURE=1")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()  # load the numba kernels before forking, so no child pays for it
    learn_graph(bench_attention(10, 0), num_samples=384, alpha=args.alpha)
    warm = time.perf_counter() - t0

    cmd = " ".join(shlex.quote(a) for a in [".venv/bin/python", "bench/graph_speed.py", *sys.argv[1:]])
    print(f"command: `{cmd}`")
    print(f"machine: {cpu_model()}; Python {platform.python_version()}")
    print(f"date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"alpha {args.alpha}, seeds 0..{args.seeds - 1}, per-graph timeout {args.timeout:g} s, "
          f"ICD cap: {args.cap if args.cap is not None else 'none'}; times are medians over seeds; "
          f"compiled kernels loaded before forking in {warm:.2f} s\n")
    header = "| n | N |"
    rule = "|---:|---:|"
    for learner in args.learners:
        header += f" {learner.upper()} s | {learner.upper()} CI tests | {learner.upper()} edges |"
        rule += "---:|---:|---:|"
    both = {"icd", "fci"} <= set(args.learners)
    gain = {"icd", "icd-pure"} <= set(args.learners)
    if both:
        header += " ICD vs FCI |"
        rule += "---:|"
    if gain:
        header += " compiled vs pure |"
        rule += "---:|"
    print(header)
    print(rule, flush=True)
    gave_up: set[tuple[str, int]] = set()  # (learner, N) that timed out at a smaller n
    for size in args.sizes:
        for samples in args.samples:
            row, meds = f"| {size} | {samples} |", {}
            for learner in args.learners:
                runs = []
                if (learner, samples) not in gave_up:
                    for seed in range(args.seeds):
                        runs.append(run_one(size, samples, seed, args.alpha, learner, args.cap, args.timeout))
                        if runs[-1] is None:  # do not spend the budget again on this or larger n
                            gave_up.add((learner, samples))
                            break
                secs, tests, edges, med = _cell(runs, args.timeout)
                meds[learner] = med
                row += f" {secs} | {tests} | {edges} |"
            if both:
                a, b = meds.get("icd"), meds.get("fci")
                row += f" {b / a:.1f}x |" if a and b else (f" > {args.timeout / a:.0f}x |" if a else " n/a |")
            if gain:
                a, b = meds.get("icd"), meds.get("icd-pure")
                row += f" {b / a:.1f}x |" if a and b else " n/a |"
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
