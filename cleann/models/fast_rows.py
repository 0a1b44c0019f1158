"""Cheap tester rows on CPU: a bf16 copy of the classifier, checked in float32 near the boundary.

Why: a tester row is one forward pass of the classifier and CLEANN runs hundreds per
sample. On a CPU with native bf16 (AVX512-BF16 or AMX), the classifier under bf16
autocast runs a MiniLM row about 1.7x cheaper than float32 (bench/tester_rows.py). Its
logits differ slightly from float32, so a verdict ("did the class change?") is taken
from the bf16 pass only when its top-1 lead over the runner-up exceeds a margin; every
other row, and every row whose class changed (its stored probability must be exact), is
run again in float32 by the original model. So verdicts and stored outcomes are those
of the float32 model.

The margin is measured, per model, not assumed: the first ``calibration_rows`` rows are
all run in both precisions, and the margin becomes ``factor`` times the largest change
of a top-1 lead seen (never below ``floor``). Every later re-checked row is compared
again; a larger change raises the margin at once (and the rows of that call are
re-decided with it). Dynamic int8 quantisation and ONNX Runtime int8 were measured too
and rejected: their leads moved by up to 1.8 / 0.9 logits on real snippets, so nearly
every row needed the float32 re-check (numbers in docs/models.md).

The copy is separate from the original (own config), so the original keeps eager
attention for attention capture, and the copy runs SDPA attention where the
architecture supports it. No shared config is switched between attention backends at
run time: that is not thread-safe (a thread running ``infer`` would get no attentions).
"""
from __future__ import annotations

import copy
from collections import deque
import os
import threading
import warnings
from types import SimpleNamespace

import numpy as np
import torch

RECHECK_FLOOR = 0.05  # logits; the smallest margin ever used
CALIBRATION_ROWS = 256
SAFETY_FACTOR = 4.0


class Bf16Twin(torch.nn.Module):
    """An SDPA copy of a classifier run under CPU bf16 autocast; returns float32 logits."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        twin = copy.deepcopy(model)
        try:
            twin.set_attn_implementation("sdpa")
        except (ValueError, AttributeError, ImportError):  # keeps its current attention
            pass
        self.model = twin.eval()

    def forward(self, **inputs) -> SimpleNamespace:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = self.model(**inputs).logits
        return SimpleNamespace(logits=logits.float())


class OpenVinoTwin:
    """The classifier compiled by OpenVINO for the CPU, bf16 inference precision where the
    CPU has native bf16; returns float32 logits like :class:`Bf16Twin`.

    Why: on CPUs with AMX/AVX512-BF16 OpenVINO's fused kernels run a MiniLM row several
    times faster than PyTorch's bf16 autocast at the 16-64-row batches the search sends
    (bench/forward_backends.py, docs/engine.md). Dynamic batch and length: one compiled
    model for every row shape. One inference request per thread (requests are not
    thread-safe; the threads runner shares the back-end).
    """

    def __init__(self, model: torch.nn.Module, threads: int | None = None, precision: str = "bf16",
                 streams: int = 1) -> None:
        import openvino as ov

        names = ["input_ids", "attention_mask"] + (["token_type_ids"] if _takes_token_types(model) else [])
        example = {n: torch.ones((2, 8), dtype=torch.int64) for n in names}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on shape checks that hold for every row we send
            converted = ov.convert_model(model.eval(), example_input=example,
                                         input=[(n, ov.PartialShape([-1, -1]), ov.Type.i64) for n in names])
        # One caller: all threads on its request (LATENCY). Several callers at once (the threads
        # runner's batches): one stream each, so their requests run side by side instead of
        # queueing on one stream (bench: 0.77 vs 0.94 ms/row for two callers, 16 rows each).
        core = ov.Core()
        if precision == "bf16" and "BF16" not in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            precision = "f32"  # a CPU without bf16 (the tests construct a copy anywhere)
        config = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"}
        if streams > 1:
            config.update({"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": str(int(streams))})
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        self.compiled = core.compile_model(converted, "CPU", config)
        self.names = names
        self.precision = precision
        self._local = threading.local()

    def __call__(self, **inputs) -> SimpleNamespace:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        feed = {n: inputs[n].cpu().numpy() for n in self.names if n in inputs}
        n, length = feed["input_ids"].shape
        rows, cols = _bucket(n, ROW_BUCKETS), -(-length // LENGTH_STEP) * LENGTH_STEP
        if (rows, cols) != (n, length):
            feed = {k: _pad(v, rows, cols) for k, v in feed.items()}
        out = request.infer(feed)
        logits = np.array(next(iter(out.values())), dtype=np.float32)[:n]
        return SimpleNamespace(logits=torch.from_numpy(logits))


# OpenVINO prepares kernels per input shape: the first call of a new (rows, length) costs as
# much as a second batch (bench: 25 vs 16 ms for 16 rows of 27 tokens; a batch of 11 after
# one of 16: 18 ms). Rows are padded to a few shapes instead: length to a multiple of 4
# (padding masked out, so the real tokens' outputs are unchanged), the batch to 4, 8, 16, 32 or 64
# rows (extra rows repeat the last one and are dropped).
LENGTH_STEP = 4
ROW_BUCKETS = (4, 8, 16, 32, 64)


def _bucket(n: int, buckets: tuple[int, ...]) -> int:
    return next((b for b in buckets if b >= n), n)


def _pad(values: np.ndarray, rows: int, cols: int) -> np.ndarray:
    n, length = values.shape
    out = np.zeros((rows, cols), dtype=values.dtype)  # attention_mask 0 there: masked out
    out[:n, :length] = values
    out[n:, :length] = values[n - 1]
    return out


def _takes_token_types(model: torch.nn.Module) -> bool:
    import inspect

    return "token_type_ids" in inspect.signature(model.forward).parameters


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def cpu_has_bf16() -> bool:
    """Native bf16 matmuls (oneDNN AVX512-BF16/AMX); without them bf16 is slower than float32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def bf16_twin(model: torch.nn.Module, backend: str = "auto", streams: int = 1) -> object | None:
    """The fast copy for CPU rows, or None on a GPU or a CPU without native bf16.

    ``backend``: ``openvino`` (OpenVINO, bf16 precision), ``torch`` (bf16 autocast copy) or
    ``auto`` (OpenVINO when installed and it compiles, else torch; the environment
    variable ``CLEANN_FAST_ROWS=torch|openvino|off`` overrides it).
    """
    from cleann.models.device import model_device

    backend = os.environ.get("CLEANN_FAST_ROWS", backend)
    if backend == "off" or model_device(model).type != "cpu" or not cpu_has_bf16():
        return None
    if backend in ("auto", "openvino") and openvino_available():
        try:
            threads = max(torch.get_num_threads(), int(streams))
            return OpenVinoTwin(model, threads=threads, streams=streams)
        except Exception:  # noqa: BLE001 - an architecture OpenVINO cannot convert: the torch copy
            if backend == "openvino":
                raise
    return Bf16Twin(model)


def lead(logits: torch.Tensor) -> torch.Tensor:
    """Top-1 logit minus the runner-up, per row (inf for a single class)."""
    if logits.shape[1] < 2:
        return torch.full((logits.shape[0],), torch.inf)
    top2 = torch.topk(logits.float(), k=2, dim=1).values
    return top2[:, 0] - top2[:, 1]


def spread(fast: torch.Tensor, exact: torch.Tensor) -> float:
    """Largest change, over rows, of any logit difference: bounds the change of the lead
    (softmax and argmax ignore a shift common to all classes)."""
    if fast.numel() == 0:
        return 0.0
    delta = fast.float() - exact.float()
    return float((delta.max(dim=1).values - delta.min(dim=1).values).max())


class FastRows:
    """A fast copy of the classifier plus its measured re-check margin, shared by a
    back-end's testers (thread-safe)."""

    def __init__(self, twin: torch.nn.Module, *, floor: float = RECHECK_FLOOR,
                 calibration_rows: int = CALIBRATION_ROWS, factor: float = SAFETY_FACTOR) -> None:
        self.model, self.floor, self.factor = twin, float(floor), float(factor)
        self.calibration_rows = int(calibration_rows)
        self.seen = 0          # rows compared in both precisions
        self.max_spread = 0.0  # largest lead change seen
        self.spreads: deque[float] = deque(maxlen=100_000)  # per re-checked row, for measuring the margin
        self._lock = threading.Lock()

    @property
    def calibrated(self) -> bool:
        return self.seen >= self.calibration_rows

    @property
    def margin(self) -> float:
        """Rows with a fast lead at or below this are re-checked (inf while calibrating)."""
        if not self.calibrated:
            return torch.inf
        return max(self.floor, self.factor * self.max_spread)

    def observe(self, fast: torch.Tensor, exact: torch.Tensor) -> None:
        """Record rows run in both precisions (raises the margin when they differ more)."""
        with self._lock:
            self.max_spread = max(self.max_spread, spread(fast, exact))
            self.seen += int(fast.shape[0])
            if fast.numel():
                delta = fast.float() - exact.float()
                self.spreads.extend((delta.max(dim=1).values - delta.min(dim=1).values).tolist())

    def needs_recheck(self, logits: torch.Tensor, original_pred: int) -> torch.Tensor:
        """bool [n]: the fast lead is within the margin, or the class changed."""
        return (lead(logits) <= self.margin) | (logits.argmax(dim=1) != original_pred)
