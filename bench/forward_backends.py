"""ms per tester row for the sentiment classifier on each CPU back-end, side by side in one run.

Why: CLEANN's cost is model rows (issue 19). The tester runs every row through a fast copy
and re-checks undecided rows in float32, so a faster copy is worth having only if it is
measurably faster at the batch sizes the search sends (16 rows per chunk; larger when rows
are packed) and its logits stay close to float32's (the re-check margin grows with the
largest difference). Back-ends: float32 eager (the re-check), the bf16 SDPA twin (today's
fast copy), that twin under ``torch.compile``, OpenVINO (bf16 inference precision, shapes
compiled per batch shape), ONNX Runtime float32. Rows are real held-out rt_snippets with
1-3 tokens replaced by [PAD], as the tester builds them.

    .venv/bin/python bench/forward_backends.py --snippets 6 --batch 16 64 --repeats 5
"""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[1]


def rows_for(tokenizer, text: str, n: int, rng) -> dict[str, torch.Tensor]:
    ids = tokenizer(text, truncation=True, max_length=128, return_tensors="np")["input_ids"][0]
    batch = np.tile(ids, (n, 1))
    for r in range(n):
        k = int(rng.integers(1, 4))
        cols = rng.choice(np.arange(1, len(ids) - 1), size=min(k, len(ids) - 2), replace=False)
        batch[r, cols] = tokenizer.pad_token_id
    t = torch.from_numpy(batch.astype(np.int64))
    return {"input_ids": t, "attention_mask": torch.ones_like(t), "token_type_ids": torch.zeros_like(t)}


def timed(fn, inputs, repeats: int) -> float:
    fn(inputs)  # warm-up (compiles shapes)
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(inputs)
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model")
    ap.add_argument("--snippets", type=int, default=6)
    ap.add_argument("--batch", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--backends", default="float32,bf16,bf16-compile,openvino-bf16,openvino-f32")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    from cleann.metrics.settings import describe_machine
    from cleann.models.default import default_sentiment_dir
    from cleann.models.fast_rows import Bf16Twin
    from cleann.models.sentiment import load_classifier
    from cleann.sources.text import load_offline

    load_start = os.getloadavg()
    model, tok = load_classifier(args.model or default_sentiment_dir())
    df = load_offline("rt_snippets")
    texts = df[df["split"] == "test"].sort_values("doc_id")["text"].tolist()[: args.snippets]
    rng = np.random.default_rng(0)
    backends = {}
    names = args.backends.split(",")

    def torch_fn(m):
        def run(inputs):
            with torch.inference_mode():
                return m(**inputs).logits.float()
        return run

    if "float32" in names:
        backends["float32"] = torch_fn(model)
    twin = Bf16Twin(model)
    if "bf16" in names:
        backends["bf16"] = torch_fn(twin)
    if "bf16-compile" in names:
        compiled = torch.compile(twin, dynamic=True)
        backends["bf16-compile"] = torch_fn(compiled)
    tmp = tempfile.mkdtemp()
    if any(n.startswith("openvino") for n in names):
        import openvino as ov

        example = rows_for(tok, texts[0], 4, rng)
        ov_model = ov.convert_model(model, example_input=dict(example))
        core = ov.Core()
        for name, hint in (("openvino-bf16", "bf16"), ("openvino-f32", "f32")):
            if name not in names:
                continue
            compiled_ov = core.compile_model(ov_model, "CPU", {"INFERENCE_PRECISION_HINT": hint,
                                                                "INFERENCE_NUM_THREADS": args.threads,
                                                                "PERFORMANCE_HINT": "LATENCY"})

            def run(inputs, c=compiled_ov):
                out = c({k: v.numpy() for k, v in inputs.items()})
                return torch.from_numpy(np.asarray(out[0], dtype=np.float32))
            backends[name] = run
    if "onnx" in names:
        import onnxruntime as ort

        path = os.path.join(tmp, "m.onnx")
        ex = rows_for(tok, texts[0], 4, rng)
        torch.onnx.export(model, (), path, kwargs=dict(ex), input_names=list(ex), output_names=["logits"],
                          dynamic_axes={k: {0: "b", 1: "l"} for k in ex}, dynamo=False)
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        backends["onnx"] = lambda inputs: torch.from_numpy(sess.run(None, {k: v.numpy() for k, v in inputs.items()})[0])

    results = {name: {b: [] for b in args.batch} for name in backends}
    spread = {name: 0.0 for name in backends}
    lengths = []
    for text in texts:
        for b in args.batch:
            inputs = rows_for(tok, text, b, rng)
            lengths.append(inputs["input_ids"].shape[1])
            ref = backends["float32"](inputs) if "float32" in backends else None
            for name, fn in backends.items():
                results[name][b].append(timed(fn, inputs, args.repeats) / b * 1000)
                if ref is not None:
                    d = fn(inputs).float() - ref
                    spread[name] = max(spread[name], float((d.max(1).values - d.min(1).values).max()))
    command = "bench/forward_backends.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    lines = [f"- command: `.venv/bin/python {command}`",
             f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {describe_machine()}, "
             f"Python {platform.python_version()}; load {'/'.join(f'{x:.1f}' for x in load_start)} at start, "
             f"{'/'.join(f'{x:.1f}' for x in os.getloadavg())} at end",
             f"- rows: {len(texts)} held-out rt_snippets, {min(lengths)}-{max(lengths)} tokens, 1-3 tokens replaced "
             f"by [PAD]; best of {args.repeats} per batch; {args.threads} threads", "",
             "| back-end | " + " | ".join(f"ms / row at {b} rows" for b in args.batch)
             + " | largest change of a logit difference vs float32 |",
             "|---|" + "---:|" * (len(args.batch) + 1)]
    for name in backends:
        cells = " | ".join(f"{np.mean(results[name][b]):.3f}" for b in args.batch)
        lines.append(f"| {name} | {cells} | {spread[name]:.3f} |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
