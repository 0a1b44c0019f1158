"""Fine-tune the pretrained MiniLM into the embedded default sentiment classifier.

Why: no English BERT fine-tuned for sentiment can be downloaded here (DATA.md), so the
default is trained once on the offline review corpora (train splits only) and cached.
It must be reproducible (the same command gives the same model) and fast on a 2-core
CPU, hence:

- a fixed, seeded schedule (``epochs`` over a fixed set of examples; the learning rate
  follows the step count only). The wall clock is only a guard: past
  ``max_train_minutes`` training aborts with a clear message instead of saving a model
  that depends on how busy the machine was;
- the embeddings and the lower ``6 - train_top_layers`` encoder layers are frozen, so
  their outputs are computed **once** per example (``encode_frozen``) and every epoch
  runs only the trainable top layers, pooler and head on the cached hidden states;
- every corpus at the length it needs: sentences and snippets whole (<= 80 tokens),
  full reviews as fixed, seeded ``chunk_length``-token chunks spread over the whole
  review (the verdict is often at the end, past the first 512 tokens);
- length-bucketed batches (little padding) and both cores (``threads=2``);
- bf16 autocast for the cached frozen pass and the trained layers' forward/backward on a
  CPU with native bf16 (``precision="auto"``; float32 master weights, float32 loss):
  1.8x less time per step, measured in docs/models.md. The resolved precision is in the
  model card: a machine without native bf16 trains in float32.

Full reviews are classified by chunks at evaluation too (``LONG_TEXT`` in the model
card, read by ``cleann.models.text_eval``): the mean of the chunk logits.
"""
from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from cleann.errors import CleannError
from cleann.models.text_eval import chunk_windows
from cleann.sources.artifacts import sha256_file

CORPORA = ("pang_lee_sentences", "rt_snippets", "pang_lee_reviews")
LONG_CORPORA = ("pang_lee_reviews",)
# Bump when the default schedule changes: a cached default with another version is
# retrained by `ensure_default_sentiment` (cleann.models.default).
SCHEDULE_VERSION = 4


class TrainingGuardError(CleannError, RuntimeError):
    """Training ran past its wall-clock guard; nothing was saved (one line in the CLI)."""


@dataclass
class FinetuneConfig:
    """Hyper-parameters of the default model (recorded in its model card)."""

    corpora: tuple[str, ...] = CORPORA
    seed: int = 0
    epochs: int = 3
    batch_size: int = 32
    lr: float = 3e-4
    warmup: float = 0.1
    weight_decay: float = 0.01
    short_max_length: int = 80
    chunk_length: int = 128
    chunks_per_review: int = 1
    train_top_layers: int = 3  # encoder layers below these are frozen and cached
    bucket_window: int = 8  # batches sorted by length together (bucketing)
    max_train_minutes: float = 240.0  # guard only: abort (nothing saved) past this
    eval_max_length: int = 512
    threads: int = 2
    cache_dtype: str = "float16"  # storage of the cached frozen hidden states
    precision: str = "auto"  # auto | bfloat16 | float32: autocast of cache + trained layers
    extra: dict = field(default_factory=dict)


def resolve_precision(precision: str) -> str:
    """``auto`` -> ``bfloat16`` where the CPU has native bf16 (else ``float32``)."""
    if precision == "auto":
        from cleann.models.fast_rows import cpu_has_bf16

        return "bfloat16" if cpu_has_bf16() else "float32"
    if precision not in ("bfloat16", "float32"):
        raise ValueError(f"precision must be auto, bfloat16 or float32, not {precision!r}")
    return precision


def _autocast(precision: str):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16")


def _set_threads(threads_now: Callable[[], int] | None) -> None:
    if threads_now is not None and (n := max(1, int(threads_now()))) != torch.get_num_threads():
        torch.set_num_threads(n)


def long_text_policy(cfg: FinetuneConfig) -> dict:
    """How texts longer than one chunk are classified (stored in the model card)."""
    return {"mode": "chunks", "chunk_length": cfg.chunk_length}


def training_examples(tokenizer, train: pd.DataFrame, cfg: FinetuneConfig,
                      rng: np.random.Generator) -> tuple[list[list[int]], list[int]]:
    """Token ids and labels: short texts whole, ``chunks_per_review`` chunks per review.

    The review chunks are drawn once (seeded) among the review's windows, so the data
    is fixed across epochs and its frozen hidden states can be cached.
    """
    short = train[~train["corpus"].isin(LONG_CORPORA)]
    long = train[train["corpus"].isin(LONG_CORPORA)]
    ids = tokenizer(short["text"].tolist(), truncation=True, max_length=cfg.short_max_length,
                    verbose=False)["input_ids"] if len(short) else []
    ys = short["label"].astype(int).tolist()
    if len(long):
        body = tokenizer(long["text"].tolist(), add_special_tokens=False, verbose=False)["input_ids"]
        for tok_ids, y in zip(body, long["label"].astype(int).tolist()):
            windows = chunk_windows(tokenizer, tok_ids, cfg.chunk_length)
            take = rng.choice(len(windows), size=min(cfg.chunks_per_review, len(windows)),
                              replace=False)
            for w in sorted(take):
                ids.append(windows[int(w)])
                ys.append(y)
    return [list(x) for x in ids], ys


def bucketed_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator,
                     window: int = 8) -> list[np.ndarray]:
    """Shuffled batches of similar-length examples (little padding, still random)."""
    lengths = np.asarray(lengths)
    order = rng.permutation(len(lengths))
    span = batch_size * max(1, window)
    batches = []
    for start in range(0, len(order), span):
        block = order[start:start + span]
        block = block[np.argsort(lengths[block], kind="stable")]
        batches += [block[i:i + batch_size] for i in range(0, len(block), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def _pad(ids: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(x) for x in ids)
    input_ids = torch.tensor([x + [pad_id] * (width - len(x)) for x in ids])
    mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids])
    return input_ids, mask


def _additive_mask(mask: torch.Tensor) -> torch.Tensor:
    """[B, L] 1/0 mask -> the [B, 1, 1, L] additive mask eager attention adds to scores."""
    return (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min


def encode_frozen(model, ids: list[list[int]], n_frozen: int, pad_id: int,
                  batch_size: int = 64, dtype: torch.dtype = torch.float16,
                  progress: Callable[[int], None] | None = None,
                  precision: str = "float32") -> list[torch.Tensor]:
    """Hidden states after the embeddings and the first ``n_frozen`` layers, per example.

    Run once, in eval mode (the frozen part has no dropout), longest first; each result
    is the unpadded ``[len, hidden]`` tensor stored as ``dtype``.
    """
    bert = model.base_model
    order = np.argsort([-len(x) for x in ids], kind="stable")
    out: list[torch.Tensor | None] = [None] * len(ids)
    bert.eval()
    with torch.inference_mode(), _autocast(precision):
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            input_ids, mask = _pad([ids[i] for i in idx], pad_id)
            h = bert.embeddings(input_ids=input_ids, token_type_ids=torch.zeros_like(input_ids))
            ext = _additive_mask(mask)
            for layer in bert.encoder.layer[:n_frozen]:
                h = layer(h, ext)
            for row, i in enumerate(idx):
                out[i] = h[row, :len(ids[i])].to(dtype).clone()
            if progress:
                progress(len(idx))
    return out  # type: ignore[return-value]


def upper_logits(model, hidden: torch.Tensor, mask: torch.Tensor, n_frozen: int) -> torch.Tensor:
    """Logits from cached hidden states: the layers above ``n_frozen``, pooler, head."""
    bert = model.base_model
    ext = _additive_mask(mask)
    for layer in bert.encoder.layer[n_frozen:]:
        hidden = layer(hidden, ext)
    pooled = bert.pooler(hidden) if bert.pooler is not None else hidden[:, 0]
    return model.classifier(model.dropout(pooled))


def _stack(hidden: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(h.shape[0] for h in hidden)
    x = torch.zeros(len(hidden), width, hidden[0].shape[1])
    mask = torch.zeros(len(hidden), width, dtype=torch.long)
    for row, h in enumerate(hidden):
        x[row, :h.shape[0]] = h.float()
        mask[row, :h.shape[0]] = 1
    return x, mask


def _bar(total: int, desc: str, unit: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=None, leave=False, dynamic_ncols=True)


def train_on_cache(model, hidden: list[torch.Tensor], labels: list[int], cfg: FinetuneConfig,
                   rng: np.random.Generator, n_frozen: int,
                   log: Callable[[str], None] = print, started: float | None = None,
                   on_epoch: Callable[[int], None] | None = None,
                   threads_now: Callable[[], int] | None = None) -> dict:
    """The fixed schedule: ``epochs`` passes of bucketed batches over the cached states.

    ``on_epoch(epoch)`` is called after each epoch (measurements; it must not draw
    random numbers, or later epochs change). ``threads_now()``, asked before each step,
    lets a caller hand this process more cores when a job beside it ends (the schedule
    does not depend on it).
    """
    precision = resolve_precision(cfg.precision)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=0.0)
    lengths = [h.shape[0] for h in hidden]
    epochs = [bucketed_batches(lengths, cfg.batch_size, rng, cfg.bucket_window)
              for _ in range(cfg.epochs)]
    total = sum(len(e) for e in epochs)
    y_all = torch.tensor(labels)
    started = time.perf_counter() if started is None else started
    guard = cfg.max_train_minutes * 60
    step, losses = 0, []
    model.train()
    with _bar(total, "train sentiment", "step") as bar:
        for epoch, batches in enumerate(epochs, 1):
            epoch_loss = 0.0
            for idx in batches:
                _set_threads(threads_now)
                progress = (step + 1) / total
                for group in opt.param_groups:
                    group["lr"] = cfg.lr * min(1.0, progress / cfg.warmup) * max(0.0, 1 - progress)
                x, mask = _stack([hidden[i] for i in idx])
                with _autocast(precision):
                    logits = upper_logits(model, x, mask, n_frozen)
                loss = torch.nn.functional.cross_entropy(logits.float(), y_all[idx])
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                opt.zero_grad()
                step += 1
                epoch_loss += float(loss.detach())
                bar.update(1)
                if time.perf_counter() - started > guard:
                    raise TrainingGuardError(
                        f"sentiment training passed its {cfg.max_train_minutes:g}-minute guard "
                        f"at step {step}/{total}; nothing was saved. The machine is slower or "
                        f"busier than expected: rerun with a larger --max-minutes (the schedule "
                        f"and the resulting model do not depend on it)")
            losses.append(round(epoch_loss / max(1, len(batches)), 4))
            log(f"epoch {epoch}/{cfg.epochs}: mean loss {losses[-1]:.4f} "
                f"({time.perf_counter() - started:.0f} s)")
            if on_epoch is not None:
                model.eval()
                on_epoch(epoch)
                model.train()
    model.eval()
    return {"steps": step, "epoch_losses": losses}


def finetune_sentiment(out_dir: str | Path, base_dir: str | Path, frames: dict[str, pd.DataFrame],
                       cfg: FinetuneConfig | None = None,
                       log: Callable[[str], None] = print, evaluate: bool = True,
                       threads_now: Callable[[], int] | None = None) -> Path:
    """Fine-tune ``base_dir`` (MiniLM) on the train splits of ``frames``; save to ``out_dir``.

    Evaluates on each frame's test split (classifying long texts by chunks) and writes
    ``model_card.json`` next to the safetensors weights and tokenizer. ``threads_now``:
    see ``train_on_cache`` (default: ``cfg.threads`` throughout).
    """
    from cleann.models.sentiment import load_classifier
    from cleann.models.text_eval import accuracy_by_corpus

    cfg = cfg or FinetuneConfig()
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    _set_threads(threads_now)
    rng = np.random.default_rng(cfg.seed)
    started = time.perf_counter()
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the new head is expected: no "MISSING weights" report
    try:
        model, tokenizer = load_classifier(base_dir, allow_new_head=True, num_labels=2)
    finally:
        hf_logging.set_verbosity(verbosity)
    model.config.id2label = {0: "negative", 1: "positive"}
    model.config.label2id = {"negative": 0, "positive": 1}
    data = pd.concat([frames[c] for c in cfg.corpora], ignore_index=True)
    train, test = data[data["split"] == "train"], data[data["split"] == "test"]
    layers = model.base_model.encoder.layer
    n_frozen = len(layers) - max(1, min(cfg.train_top_layers, len(layers)))
    model.base_model.embeddings.requires_grad_(False)
    for layer in layers[:n_frozen]:
        layer.requires_grad_(False)

    ids, labels = training_examples(tokenizer, train, cfg, rng)
    n_tokens = sum(len(x) for x in ids)
    log(f"{len(ids)} training examples ({n_tokens} tokens); caching the frozen embeddings "
        f"and {n_frozen} of {len(layers)} layers once ({resolve_precision(cfg.precision)})")
    t0 = time.perf_counter()
    with _bar(len(ids), "encode frozen layers", "text") as bar:
        hidden = encode_frozen(model, ids, n_frozen, tokenizer.pad_token_id,
                               dtype=getattr(torch, cfg.cache_dtype), progress=bar.update,
                               precision=resolve_precision(cfg.precision))
    cache_seconds = time.perf_counter() - t0
    report = train_on_cache(model, hidden, labels, cfg, rng, n_frozen, log=log, started=started,
                            threads_now=threads_now)
    del hidden
    train_seconds = time.perf_counter() - started
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    t0 = time.perf_counter()
    acc = {}
    _set_threads(threads_now)
    if evaluate:
        acc = accuracy_by_corpus(model, tokenizer, test, max_length=cfg.eval_max_length,
                                 long_text=long_text_policy(cfg), desc="held-out accuracy")
        log(f"held-out accuracy: {json.dumps(acc)}")
    card = {
        "name": "sentiment-minilm",
        "schedule_version": SCHEDULE_VERSION,
        "base_model": {"artifact": "minilm", "path": str(base_dir),
                       "what": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0)"},
        "data": {c: {"train": int((train["corpus"] == c).sum()),
                     "test": int((test["corpus"] == c).sum()),
                     "source": str(frames[c].attrs.get("source", {}).get("location", ""))}
                 for c in cfg.corpora},
        "splits": "the corpora's deterministic train/test split (hash of doc_id); "
                  "training saw train rows only",
        "long_text": long_text_policy(cfg),
        "hyper_parameters": asdict(cfg),
        "precision": resolve_precision(cfg.precision),
        "examples": len(ids), "tokens": n_tokens, "frozen_layers": n_frozen,
        "steps": report["steps"], "epoch_losses": report["epoch_losses"],
        "cache_seconds": round(cache_seconds, 1),
        "train_seconds": round(train_seconds, 1),
        "eval_seconds": round(time.perf_counter() - t0, 1),
        "accuracy": acc,
        "weights_sha256": sha256_file(out / "model.safetensors"),
        "machine": f"{platform.machine()} {platform.processor() or ''} "
                   f"{torch.get_num_threads()} threads".strip(),
        "versions": {"torch": torch.__version__,
                     "transformers": __import__("transformers").__version__},
    }
    (out / "model_card.json").write_text(json.dumps(card, indent=1))
    return out
