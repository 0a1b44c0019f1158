"""Fine-tune the pretrained MiniLM into the embedded default sentiment classifier.

Why: no English BERT fine-tuned for sentiment can be downloaded here (DATA.md), so the
default is trained once on the offline review corpora (train splits only) and cached.
It must fit a shared 2-core CPU in well under 20 minutes, hence: short sequences for
sentences/snippets, one random 128-token chunk (from the first 512 tokens that inference
sees) per full review per epoch, dynamic padding, frozen embeddings and lower layers
(only the top layers, pooler and head train: a much cheaper backward pass), and a
wall-clock budget that the learning-rate schedule follows.
"""
from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from cleann.sources.artifacts import sha256_file

CORPORA = ("pang_lee_sentences", "rt_snippets", "pang_lee_reviews")
LONG_CORPORA = ("pang_lee_reviews",)


@dataclass
class FinetuneConfig:
    """Hyper-parameters of the default model (recorded in its model card)."""

    corpora: tuple[str, ...] = CORPORA
    seed: int = 0
    epochs: int = 2
    batch_size: int = 32
    lr: float = 2e-4
    warmup: float = 0.1
    weight_decay: float = 0.01
    short_max_length: int = 48
    chunk_length: int = 128
    chunks_per_review: int = 1
    review_window: int = 512
    freeze_word_embeddings: bool = True
    train_top_layers: int = 3  # encoder layers below these stay frozen (cheaper backward)
    max_train_minutes: float = 17.0
    eval_max_length: int = 512
    threads: int = 1
    extra: dict = field(default_factory=dict)


def review_chunks(tokenizer, texts: list[str], labels: np.ndarray, cfg: FinetuneConfig,
                  rng: np.random.Generator) -> tuple[list[list[int]], list[int]]:
    """Random ``chunk_length`` token windows from the first ``review_window`` tokens."""
    body = cfg.review_window - 2
    size = cfg.chunk_length - 2
    ids = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=body,
                    verbose=False)["input_ids"]
    chunks, ys = [], []
    for tok_ids, y in zip(ids, labels):
        starts = np.arange(0, max(1, len(tok_ids) - size + 1), size // 2)
        for s in rng.choice(starts, size=min(cfg.chunks_per_review, len(starts)),
                            replace=False):
            chunks.append([tokenizer.cls_token_id, *tok_ids[s:s + size], tokenizer.sep_token_id])
            ys.append(int(y))
    return chunks, ys


def _batches(tokenizer, train: pd.DataFrame, cfg: FinetuneConfig,
             rng: np.random.Generator) -> list[tuple[list[list[int]], list[int]]]:
    """One epoch of homogeneous, shuffled batches (short texts; review chunks)."""
    short = train[~train["corpus"].isin(LONG_CORPORA)]
    long = train[train["corpus"].isin(LONG_CORPORA)]
    short_ids = tokenizer(short["text"].tolist(), truncation=True,
                          max_length=cfg.short_max_length, verbose=False)["input_ids"]
    groups = [(short_ids, short["label"].astype(int).tolist())]
    if len(long):
        groups.append(review_chunks(tokenizer, long["text"].tolist(),
                                    long["label"].to_numpy(), cfg, rng))
    batches = []
    for ids, ys in groups:
        order = rng.permutation(len(ids))
        for s in range(0, len(order), cfg.batch_size):
            idx = order[s:s + cfg.batch_size]
            batches.append(([ids[i] for i in idx], [ys[i] for i in idx]))
    return [batches[i] for i in rng.permutation(len(batches))]


def _collate(tokenizer, ids: list[list[int]], ys: list[int]) -> dict[str, torch.Tensor]:
    width = max(len(x) for x in ids)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([x + [pad] * (width - len(x)) for x in ids])
    mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids])
    return {"input_ids": input_ids, "attention_mask": mask,
            "token_type_ids": torch.zeros_like(input_ids), "labels": torch.tensor(ys)}


def finetune_sentiment(out_dir: str | Path, base_dir: str | Path, frames: dict[str, pd.DataFrame],
                       cfg: FinetuneConfig | None = None,
                       log: Callable[[str], None] = print) -> Path:
    """Fine-tune ``base_dir`` (MiniLM) on the train splits of ``frames``; save to ``out_dir``.

    Evaluates on each frame's test split and writes ``model_card.json`` next to the
    safetensors weights and tokenizer.
    """
    from cleann.models.sentiment import load_classifier
    from cleann.models.text_eval import accuracy_by_corpus

    cfg = cfg or FinetuneConfig()
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    model, tokenizer = load_classifier(base_dir, allow_new_head=True, num_labels=2)
    model.config.id2label = {0: "negative", 1: "positive"}
    model.config.label2id = {"negative": 0, "positive": 1}
    data = pd.concat([frames[c] for c in cfg.corpora], ignore_index=True)
    train, test = data[data["split"] == "train"], data[data["split"] == "test"]
    if cfg.freeze_word_embeddings:
        model.base_model.embeddings.word_embeddings.weight.requires_grad_(False)
    layers = model.base_model.encoder.layer
    if 0 < cfg.train_top_layers < len(layers):
        for module in [model.base_model.embeddings, *layers[:len(layers) - cfg.train_top_layers]]:
            module.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=0.0)
    epochs = [_batches(tokenizer, train, cfg, rng) for _ in range(cfg.epochs)]
    total = sum(len(e) for e in epochs)
    budget = cfg.max_train_minutes * 60
    started, step, stopped_early = time.perf_counter(), 0, False
    model.train()
    for batches in epochs:
        for ids, ys in batches:
            # Linear warm-up and decay over steps or wall-clock budget, whichever is
            # further along: on a busy machine the rate still reaches 0 at the deadline.
            progress = max((step + 1) / total, (time.perf_counter() - started) / budget)
            for group in opt.param_groups:
                group["lr"] = cfg.lr * min(1.0, progress / cfg.warmup) * max(0.0, 1 - progress)
            loss = model(**_collate(tokenizer, ids, ys)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad()
            step += 1
            elapsed = time.perf_counter() - started
            if step % 25 == 0:
                log(f"step {step}/{total} loss {float(loss.detach()):.4f} ({elapsed:.0f} s)")
            if elapsed > budget:
                stopped_early = True
                log(f"stopping at step {step}: time budget of {cfg.max_train_minutes} min")
                break
        if stopped_early:
            break
    train_seconds = time.perf_counter() - started
    model.eval()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    started = time.perf_counter()
    acc = accuracy_by_corpus(model, tokenizer, test, max_length=cfg.eval_max_length)
    log(f"held-out accuracy: {json.dumps(acc)}")
    card = {
        "name": "sentiment-minilm",
        "base_model": {"artifact": "minilm", "path": str(base_dir),
                       "what": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0)"},
        "data": {c: {"train": int((train["corpus"] == c).sum()),
                     "test": int((test["corpus"] == c).sum()),
                     "source": str(frames[c].attrs.get("source", {}).get("location", ""))}
                 for c in cfg.corpora},
        "splits": "the corpora's deterministic train/test split (hash of doc_id); "
                  "training saw train rows only",
        "hyper_parameters": asdict(cfg),
        "steps": step, "planned_steps": total, "stopped_early": stopped_early,
        "train_seconds": round(train_seconds, 1),
        "eval_seconds": round(time.perf_counter() - started, 1),
        "accuracy": acc,
        "weights_sha256": sha256_file(out / "model.safetensors"),
        "machine": f"{platform.machine()} {platform.processor() or ''} "
                   f"{torch.get_num_threads()} threads".strip(),
        "versions": {"torch": torch.__version__,
                     "transformers": __import__("transformers").__version__},
    }
    (out / "model_card.json").write_text(json.dumps(card, indent=1))
    return out
