"""Where a tester row's time goes, side by side in one run: the CLEANN text tester (float32
as before, and with the int8 twin + float32 re-check), plain PyTorch forward passes of the
very same batch (eager attention, SDPA attention, int8, bf16 autocast, ONNX Runtime), and
one Integrated-Gradients step (Captum, forward + backward of one interpolated row).

Why: issue 11 asks that one model row costs no more than a forward pass of the same batch
in plain PyTorch, and that faster CPU options are kept only when they are measurably
faster and give the same verdicts as float32. So this prints ms per row (wall clock and
CPU time of this process), the batch shapes, torch threads, the load average, and a
verdict comparison of every fast variant against float32 on real rt_snippets rows.

Usage: .venv/bin/python bench/tester_rows.py [--model PATH] [--snippets 12] [--rows 128]
       [--threads 1 2] [--repeats 3] [--no-onnx]
Default model: the trained default sentiment-minilm when cached, else the pretrained
MiniLM with a fresh seeded head (same architecture and cost; its logits sit near the
boundary, a harder verdict check).
"""
from __future__ import annotations

import argparse
import itertools
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

warnings.filterwarnings("ignore")


def load_model(path: str | None):
    from cleann.models.default import default_sentiment_dir, is_complete
    from cleann.models.sentiment import load_classifier

    if path:
        return path, *load_classifier(path)
    if is_complete(default_sentiment_dir()):
        return str(default_sentiment_dir()), *load_classifier(default_sentiment_dir())
    from cleann.sources.artifacts import minilm_dir

    torch.manual_seed(0)
    return (f"{minilm_dir()} (pretrained MiniLM, fresh head, seed 0)",
            *load_classifier(minilm_dir(), allow_new_head=True, num_labels=2))


def sdpa_copy(model):
    import copy

    twin = copy.deepcopy(model)
    twin.set_attn_implementation("sdpa")
    return twin.eval()


class OrtModel(torch.nn.Module):
    """ONNX Runtime session with the classifier's call signature (logits only)."""

    def __init__(self, model, quantize: bool = False, threads: int = 1) -> None:
        super().__init__()
        import onnxruntime as ort

        folder = Path(tempfile.mkdtemp(prefix="cleann-ort-"))
        path = folder / "model.onnx"
        ids = torch.ones((2, 16), dtype=torch.int64)
        names = ["input_ids", "attention_mask", "token_type_ids"]
        torch.onnx.export(sdpa_copy(model), (ids, ids, torch.zeros_like(ids)), str(path),
                          input_names=names, output_names=["logits"], opset_version=17,
                          dynamic_axes={n: {0: "batch", 1: "length"} for n in names}, dynamo=False)
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            qpath = folder / "model.int8.onnx"
            quantize_dynamic(str(path), str(qpath), weight_type=QuantType.QInt8)
            path = qpath
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        feed = {"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy(),
                "token_type_ids": (token_type_ids if token_type_ids is not None
                                   else torch.zeros_like(input_ids)).numpy()}
        return SimpleNamespace(logits=torch.from_numpy(self.session.run(["logits"], feed)[0]))


def int8_twin(model):
    """Dynamic int8 quantisation of the Linear layers of an SDPA copy (torch.ao, CPU)."""
    return torch.ao.quantization.quantize_dynamic(sdpa_copy(model), {torch.nn.Linear},
                                                  dtype=torch.qint8, inplace=True)


def candidate_rows(length: int, rows: int) -> list[tuple[int, ...]]:
    """The search's order: singles, then pairs, of the real (non-special) positions."""
    pos = range(1, length - 1)
    cands = [(p,) for p in pos] + list(itertools.combinations(pos, 2))
    while len(cands) < rows:  # very short snippet: repeat (same shapes as a longer call)
        cands += cands[: rows - len(cands)]
    return cands[:rows]


def timed(fn, repeats: int) -> tuple[float, float]:
    """Median (wall s, CPU s) of ``repeats`` calls after one warm-up."""
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return float(np.median(walls)), float(np.median(cpus))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--snippets", type=int, default=8, help="held-out rt_snippets, spread over lengths")
    ap.add_argument("--rows", type=int, nargs="+", default=[16, 128],
                    help="candidate rows per tester call (first-hit search: 16)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--ig-steps", type=int, default=50)
    ap.add_argument("--no-onnx", action="store_true")
    ap.add_argument("--rec", action="store_true",
                    help="only the BERT4Rec tester (default model if trained, else a fresh one, same cost)")
    ap.add_argument("--workers", type=int, default=0,
                    help="only the thread experiment: N Python threads run float32 tester calls "
                         "at once, at each --threads (the `threads` runner's situation)")
    args = ap.parse_args(argv)
    if args.workers:
        return thread_rows(args, argv)
    if args.rec:
        return rec_rows(args, argv)
    load_start = os.getloadavg()
    from captum.attr import LayerIntegratedGradients

    from cleann.baselines.inputs import text_input
    from cleann.models.fast_rows import Bf16Twin, FastRows, spread
    from cleann.models.sentiment import infer
    from cleann.models.sentiment import SentimentTester
    from cleann.sources.text import load_offline

    name, model, tok = load_model(args.model)
    df = load_offline("rt_snippets")
    df = df[df.split == "test"].sort_values("doc_id")
    infs_all = infer(model, tok, df.text.head(400).tolist(), max_length=128)
    order = np.argsort([len(i.token_ids) for i in infs_all], kind="stable")
    pick = order[np.linspace(0, len(order) - 1, args.snippets).round().astype(int)]
    infs = [infs_all[i] for i in pick]
    warm = infs_all[order[len(order) // 2]]

    sdpa = sdpa_copy(model)
    fast_models: dict[str, torch.nn.Module] = {"int8 (torch dynamic, SDPA)": int8_twin(model),
                                               "bf16 autocast (SDPA)": Bf16Twin(model)}
    onnx_note = ""
    if not args.no_onnx:
        try:
            fast_models["ONNX Runtime fp32"] = OrtModel(model, threads=args.threads[0])
            fast_models["ONNX Runtime int8"] = OrtModel(model, quantize=True, threads=args.threads[0])
        except Exception as exc:  # noqa: BLE001 - reported, not hidden
            onnx_note = f"ONNX Runtime not measured: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    fast = FastRows(Bf16Twin(model))  # what the back-end uses (cleann.models.fast_rows)
    fast8 = FastRows(int8_twin(model))  # measured and rejected
    for f in (fast, fast8):  # calibrate on another snippet, as a worker does on its first one
        SentimentTester(model, tok, warm, fast=f)(candidate_rows(len(warm.token_ids), 512))

    # --- verdicts: every fast variant against float32, same rows -------------------------
    verdicts = {k: [0, 0, 0.0] for k in fast_models}  # differing verdicts, rows, max lead spread
    checked = {"rows": 0, "differ": 0, "rechecked": 0}
    for inf in infs:
        cands = candidate_rows(len(inf.token_ids), max(args.rows))
        ref = SentimentTester(model, tok, inf)
        exact = torch.from_numpy(np.log(ref.probabilities(cands)))
        exact_v = (exact.argmax(1) != inf.pred).numpy()
        for k, m in fast_models.items():
            probe = SentimentTester(model, tok, inf)
            z = probe._logits(m, cands)
            verdicts[k][0] += int(((z.argmax(1) != inf.pred).numpy() != exact_v).sum())
            verdicts[k][1] += len(cands)
            verdicts[k][2] = max(verdicts[k][2], spread(z, exact))
        t = SentimentTester(model, tok, inf, fast=fast)
        got = np.array(t(cands))
        checked["rows"] += len(cands)
        checked["differ"] += int((got != exact_v).sum())
        checked["rechecked"] += t.rechecked

    # --- timings ------------------------------------------------------------------------
    results = []
    for threads, n_rows in itertools.product(args.threads, args.rows):
        torch.set_num_threads(threads)
        per: dict[str, list[tuple[float, float]]] = {}
        shapes = []
        rechecked = [0, 0]
        for inf in infs:
            cands = candidate_rows(len(inf.token_ids), n_rows)
            base = SentimentTester(model, tok, inf)
            inputs = base._inputs(cands)
            shapes.append(tuple(inputs["input_ids"].shape))
            n = len(cands)

            def plain(m):
                def run():
                    with torch.inference_mode():
                        m(**inputs)
                return run

            def tester(f):
                def run():
                    t = SentimentTester(model, tok, inf, fast=f)
                    t(cands)
                    if f is fast:
                        rechecked[0] += t.rechecked
                        rechecked[1] += len(cands)
                return run

            mi = text_input(model, tok, inf, "pad")
            lig = LayerIntegratedGradients(mi.forward, mi.embedding)

            def ig():
                lig.attribute(mi.input_ids, baselines=mi.reference_ids, target=mi.target,
                              n_steps=args.ig_steps, internal_batch_size=25)

            variants = {
                "tester, float32 eager (before)": (tester(None), n),
                "tester, bf16 twin + float32 re-check (after)": (tester(fast), n),
                "tester, int8 twin + float32 re-check (rejected)": (tester(fast8), n),
                "tester: building inputs only (Python)": (lambda: base._inputs(cands), n),
                "plain forward, float32 eager": (plain(model), n),
                "plain forward, float32 SDPA": (plain(sdpa), n),
                **{f"plain forward, {k}": (plain(m), n) for k, m in fast_models.items()},
                f"IG step (Captum, {args.ig_steps} steps, batch 25, fwd+bwd)": (ig, args.ig_steps),
            }
            for key, (fn, rows) in variants.items():  # interleaved per snippet
                if key.startswith("plain forward, ONNX") and threads != args.threads[0]:
                    continue  # sessions were built with the first thread count
                w, c = timed(fn, args.repeats)
                per.setdefault(key, []).append((w / rows, c / rows))
        results.append((threads, n_rows, per, rechecked))

    # --- report -------------------------------------------------------------------------
    load_end = os.getloadavg()
    print(f"model: {name}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
          f"interop threads {torch.get_num_interop_threads()}, "
          f"{'GPU ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU'}")
    print(f"load average (1 min) at start {load_start[0]:.1f}, at end {load_end[0]:.1f}")
    print(f"command: .venv/bin/python bench/tester_rows.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    lengths = [len(i.token_ids) for i in infs]
    print(f"snippets: {len(infs)} held-out rt_snippets, tokens min {min(lengths)} / median "
          f"{int(np.median(lengths))} / max {max(lengths)}; candidate rows per call: singles then "
          f"pairs; batch shape = (rows, snippet length): no padding beyond the snippet")
    for threads, n_rows, per, rechecked in results:
        print(f"\n### torch threads {threads}, {n_rows} rows per tester call\n")
        print("| what | ms per row, wall (median over snippets) | ms per row, CPU time |")
        print("|---|---:|---:|")
        for key, vals in per.items():
            arr = np.array(vals) * 1000
            print(f"| {key} | {np.median(arr[:, 0]):.3f} | {np.median(arr[:, 1]):.3f} |")
        if rechecked[1]:
            print(f"\n(re-checked in float32: {rechecked[0]} of {rechecked[1]} timed rows, "
                  f"{100 * rechecked[0] / rechecked[1]:.1f} %)")
    print("\n### verdicts against float32 on the same rows\n")
    print("| fast forward | rows | verdicts that differ | largest change of a top-1 lead (logits) |")
    print("|---|---:|---:|---:|")
    for k, (d, n, s) in verdicts.items():
        print(f"| {k}, alone | {n} | {d} | {s:.4f} |")
    print(f"| bf16 twin + float32 re-check (the tester) | {checked['rows']} | {checked['differ']} | "
          f"margin {fast.margin:.3f} after {fast.seen} calibration/re-check rows; "
          f"{checked['rechecked']} rows re-checked ({100 * checked['rechecked'] / checked['rows']:.1f} %) |")
    print(f"| int8 twin + float32 re-check (rejected) | - | - | margin {fast8.margin:.3f} after "
          f"{fast8.seen} calibration/re-check rows |")
    if onnx_note:
        print(f"\n{onnx_note}")
    return 0


def thread_rows(args, argv) -> int:
    """``--workers`` Python threads each running tester calls, per torch thread count."""
    from concurrent.futures import ThreadPoolExecutor

    from cleann.models.sentiment import infer
    from cleann.models.sentiment import SentimentTester
    from cleann.sources.text import load_offline

    load_start = os.getloadavg()
    name, model, tok = load_model(args.model)
    df = load_offline("rt_snippets")
    texts = df[df.split == "test"].sort_values("doc_id").text.head(args.snippets).tolist()
    infs = infer(model, tok, texts, max_length=128)
    rows = max(args.rows)
    jobs = [(inf, candidate_rows(len(inf.token_ids), rows)) for inf in infs]

    def work(part):
        for inf, cands in part:
            SentimentTester(model, tok, inf)(cands)

    parts = [jobs[i::args.workers] for i in range(args.workers)]
    out = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        work(jobs[:1])  # warm-up
        w, c = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(args.workers) as pool:
            list(pool.map(work, parts))
        n = rows * len(jobs)
        out.append((threads, (time.perf_counter() - w) * 1000 / n, (time.process_time() - c) * 1000 / n))
    print(f"model: {name}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}; "
          f"load average (1 min) at start {load_start[0]:.1f}, at end {os.getloadavg()[0]:.1f}")
    print(f"command: .venv/bin/python bench/tester_rows.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(f"\n{args.workers} Python threads at once, float32 tester, {len(jobs)} snippets x {rows} rows\n")
    print("| torch threads per call | ms per row, wall | ms per row, CPU time (all threads) |")
    print("|---:|---:|---:|")
    for threads, wall, cpu in out:
        print(f"| {threads} | {wall:.3f} | {cpu:.3f} |")
    return 0


def rec_rows(args, argv) -> int:
    """RecTester rows vs a plain forward of the same (left-padded) batch on ml-100k histories."""
    from cleann.models.bert4rec import load_bert4rec, new_bert4rec, pad_batch, recommend
    from cleann.models.default import default_bert4rec_dir, is_complete
    from cleann.models.bert4rec import RecTester
    from cleann.sources.movielens import load_offline_ml100k

    load_start = os.getloadavg()
    inter, items = load_offline_ml100k()
    if is_complete(default_bert4rec_dir()):
        name, rec = str(default_bert4rec_dir()), load_bert4rec(default_bert4rec_dir())
    else:
        torch.manual_seed(0)
        name = "fresh BERT4Rec over ml-100k items (hidden 64, 2 layers, 2 heads, max length 200)"
        rec = new_bert4rec(sorted(items.item_id.unique().tolist()))
        rec.model.eval()
    hist = inter.sort_values(["user_id", "ts"]).groupby("user_id").item_id.apply(list)
    users = hist.index[np.linspace(0, len(hist) - 1, args.snippets).round().astype(int)]
    lines = []
    for threads, n_rows in itertools.product(args.threads, args.rows):
        torch.set_num_threads(threads)
        per: dict[str, list[tuple[float, float]]] = {}
        for u in users:
            inf = recommend(rec, [hist[u][-(rec.max_len - 1):]], k=10)[0]
            length = len(inf.history)
            cands = [(p,) for p in range(length)] + list(itertools.combinations(range(length), 2))
            cands = (cands * (1 + n_rows // len(cands)))[:n_rows]
            tester = RecTester(rec, inf)
            internal = tester.history
            seqs = [np.append(np.delete(internal, list(c)), rec.mask_id) for c in cands]
            batch = pad_batch(seqs, rec.max_len)

            def plain_full():
                with torch.inference_mode():
                    rec.model(**batch)

            def plain_last():
                with torch.inference_mode():
                    rec.model.cls(rec.model.bert(**batch).last_hidden_state[:, -1])

            for key, fn in (("RecTester row", lambda: RecTester(rec, inf)(cands)),
                            ("plain forward, masked-LM head on every position", plain_full),
                            ("plain forward, head on the last position only", plain_last)):
                w, c = timed(fn, args.repeats)
                per.setdefault(key, []).append((w / len(cands), c / len(cands)))
        lines.append((threads, n_rows, per))
    print(f"model: {name}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}; "
          f"load average (1 min) at start {load_start[0]:.1f}, at end {os.getloadavg()[0]:.1f}")
    print(f"command: .venv/bin/python bench/tester_rows.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    lens = [min(len(hist[u]), rec.max_len - 1) for u in users]
    print(f"users: {len(users)} ml-100k users, history lengths {min(lens)}..{max(lens)} (median {int(np.median(lens))})")
    for threads, n_rows, per in lines:
        print(f"\n### torch threads {threads}, {n_rows} rows per tester call\n")
        print("| what | ms per row, wall | ms per row, CPU time |")
        print("|---|---:|---:|")
        for key, vals in per.items():
            arr = np.array(vals) * 1000
            print(f"| {key} | {np.median(arr[:, 0]):.3f} | {np.median(arr[:, 1]):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
