"""BERT4Rec Cloze training and sampled-negative evaluation (with a popularity baseline).

Why: no BERT4Rec checkpoint can be downloaded here, so the embedded default is trained
once on ml-100k (or a user's ml-1m) and cached. Training follows the paper: random
items of each training sequence are replaced by [MASK] and predicted (seeded masking);
the last two items of each user are held out (validation picks the best epoch, test is
reported once).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from cleann.models.bert4rec import (Bert4Rec, head_logits, new_bert4rec, next_item_logits,
                                    pad_batch)
from cleann.models.rank_metrics import rank_metrics, ranks, sample_negatives
from cleann.models.rec_split import LeaveOneOut

# Bump when the default schedule changes: a cached default with another version is
# retrained by `ensure_default_bert4rec` (cleann.models.default).
SCHEDULE_VERSION = 2


@dataclass
class RecTrainConfig:
    """Hyper-parameters; defaults are the paper's model sizes and a CPU-sized schedule."""

    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 2
    max_len: int = 200
    dropout: float = 0.2
    mask_prob: float = 0.2
    epochs: int = 100
    max_train_minutes: float = 240.0  # guard only: abort (nothing saved) past this
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    eval_every: int = 10  # validation NDCG@10 every N epochs; the best epoch is kept
    patience: int = 0  # >0: stop after N evaluations without improvement (still seeded)
    negatives: str = "popularity"
    num_negatives: int = 100
    seed: int = 0
    threads: int = 1  # measured: a hidden-64 model gains nothing from 2; under load 2 cost 10x CPU


def cloze_batch(seqs: list[np.ndarray], mask_id: int, max_len: int, mask_prob: float,
                rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """Mask items of each (internal-id) sequence; labels are -100 except at masked spots.

    Sequences longer than ``max_len`` are cut to a random window; every sequence gets at
    least one masked item.
    """
    cut, labels = [], []
    for s in seqs:
        if len(s) > max_len:
            start = int(rng.integers(0, len(s) - max_len + 1))
            s = s[start:start + max_len]
        masked = rng.random(len(s)) < mask_prob
        if not masked.any():
            masked[int(rng.integers(0, len(s)))] = True
        cut.append(np.where(masked, mask_id, s))
        labels.append(np.where(masked, s, -100))
    batch = pad_batch(cut, max_len)
    lab = np.full(batch["input_ids"].shape, -100, dtype=np.int64)
    for row, y in enumerate(labels):
        lab[row, lab.shape[1] - len(y):] = y
    batch["labels"] = torch.from_numpy(lab)
    return batch


def length_bucketed_batches(seqs: list[np.ndarray], batch_size: int,
                            rng: np.random.Generator, window: int = 8) -> list[np.ndarray]:
    """Shuffled batches of similar-length sequences (less padding, ~2x faster on ml-100k).

    Users are shuffled, sorted by length within windows of ``window`` batches, cut into
    batches, and the batches shuffled again: still random, but rarely padded to 200.
    """
    order = rng.permutation(len(seqs))
    lengths = np.array([len(s) for s in seqs])
    span = batch_size * window
    batches = []
    for start in range(0, len(order), span):
        block = order[start:start + span]
        block = block[np.argsort(lengths[block], kind="stable")]
        batches += [block[i:i + batch_size] for i in range(0, len(block), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def item_counts(seqs: list[np.ndarray], n_items: int) -> np.ndarray:
    """Interaction count per internal index (index 0 unused)."""
    return np.bincount(np.concatenate(seqs), minlength=n_items + 2)[: n_items + 1]


def evaluate(rec: Bert4Rec, split: LeaveOneOut, part: str = "test", negatives: str = "popularity",
             num_negatives: int = 100, seed: int = 0) -> dict[str, dict[str, float]]:
    """HR@1/5/10, NDCG@5/10, MRR of the model and of a popularity baseline on ``part``.

    Both score the same seeded negatives. The popularity baseline ranks by the number of
    interactions visible to the model for that part (all items before the held-out one).
    """
    pairs = [split.test(u) if part == "test" else split.valid(u) for u in range(len(split))]
    hist = [rec.to_internal(h) for h, _ in pairs]
    target = rec.to_internal([t for _, t in pairs])
    full = [rec.to_internal(s) for s in split.sequences]
    neg = sample_negatives(full, rec.n_items, item_counts(full, rec.n_items),
                           num=num_negatives, how=negatives, seed=seed)
    rec.model.eval()
    logits = next_item_logits(rec, hist).numpy()
    rows = np.arange(len(hist))[:, None]
    model_rank = ranks(logits[rows[:, 0], target], logits[rows, neg], seed=seed)
    pop = item_counts(hist, rec.n_items).astype(np.float64)
    pop_rank = ranks(pop[target], pop[neg], seed=seed)
    return {"model": rank_metrics(model_rank), "popularity": rank_metrics(pop_rank)}


def train_bert4rec(split: LeaveOneOut, cfg: RecTrainConfig,
                   log: Callable[[str], None] = print,
                   on_eval: Callable[[int, Bert4Rec], None] | None = None) -> tuple[Bert4Rec, dict]:
    """Train on ``split``'s training parts; return the best-validation model and a report.

    The schedule is fixed and seeded (``epochs``; validation every ``eval_every`` epochs
    keeps the best one), so the same data and config give the same model on any
    machine. ``max_train_minutes`` is only a guard: past it training aborts with
    ``TrainingGuardError`` and nothing is saved. ``on_eval(epoch, rec)`` is called after
    each validation (measurements; it must not draw random numbers).
    """
    from tqdm.auto import tqdm

    from cleann.models.finetune import TrainingGuardError

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    rec = new_bert4rec(split.item_ids, hidden_size=cfg.hidden_size, num_layers=cfg.num_layers,
                       num_heads=cfg.num_heads, max_len=cfg.max_len, dropout=cfg.dropout)
    train = [rec.to_internal(split.train(u)) for u in range(len(split))]
    opt = torch.optim.AdamW(rec.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    best, best_state, best_epoch, waited, history = -1.0, None, 0, 0, []
    started = time.perf_counter()
    bar = tqdm(total=cfg.epochs, desc="train bert4rec", unit="epoch", disable=None,
               leave=False, dynamic_ncols=True)
    for epoch in range(1, cfg.epochs + 1):
        rec.model.train()
        total = 0.0
        for idx in length_bucketed_batches(train, cfg.batch_size, rng):
            batch = cloze_batch([train[i] for i in idx], rec.mask_id, cfg.max_len,
                                cfg.mask_prob, rng)
            labels = batch.pop("labels")
            rows, cols = torch.nonzero(labels >= 0, as_tuple=True)
            logits = head_logits(rec, batch, rows, cols)
            loss = torch.nn.functional.cross_entropy(logits, labels[rows, cols])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
        bar.update(1)
        if time.perf_counter() - started > cfg.max_train_minutes * 60:
            bar.close()
            raise TrainingGuardError(
                f"BERT4Rec training passed its {cfg.max_train_minutes:g}-minute guard after "
                f"epoch {epoch}/{cfg.epochs}; nothing was saved. The machine is slower or "
                f"busier than expected: rerun with a larger --max-minutes (the schedule and "
                f"the resulting model do not depend on it)")
        if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
            val = evaluate(rec, split, "valid", cfg.negatives, cfg.num_negatives, cfg.seed)
            score = val["model"]["NDCG@10"]
            history.append({"epoch": epoch, "loss": total, "valid": val["model"]})
            log(f"epoch {epoch}: loss {total:.2f} valid HR@10 {val['model']['HR@10']:.4f} "
                f"NDCG@10 {score:.4f} ({time.perf_counter() - started:.0f} s)")
            if on_eval is not None:
                on_eval(epoch, rec)
            if score > best:
                best, best_epoch, waited = score, epoch, 0
                best_state = {k: v.detach().clone() for k, v in rec.model.state_dict().items()}
            else:
                waited += 1
                if cfg.patience and waited >= cfg.patience:
                    break
    bar.close()
    if best_state is not None:
        rec.model.load_state_dict(best_state)
    rec.model.eval()
    report = {"config": asdict(cfg), "best_epoch": best_epoch,
              "train_seconds": round(time.perf_counter() - started, 1), "history": history}
    return rec, report


def train_and_save(out_dir: str | Path, interactions, corpus: str,
                   cfg: RecTrainConfig | None = None,
                   log: Callable[[str], None] = print) -> Path:
    """Split, train, evaluate on the test items and save the checkpoint with its card."""
    from cleann.models.bert4rec import save_bert4rec
    from cleann.sources.artifacts import sha256_file
    from cleann.models.rec_split import leave_one_out

    cfg = cfg or RecTrainConfig()
    split = leave_one_out(interactions)
    log(f"{corpus}: {len(split)} users, {len(split.item_ids)} items, "
        f"{sum(len(s) for s in split.sequences)} interactions")
    rec, report = train_bert4rec(split, cfg, log=log)
    started = time.perf_counter()
    test = {how: evaluate(rec, split, "test", how, cfg.num_negatives, cfg.seed)
            for how in ("popularity", "uniform")}
    log(f"test: {json.dumps(test)}")
    out = save_bert4rec(rec, out_dir, extra={"corpus": corpus})
    card = {
        "name": f"bert4rec-{corpus}", "corpus": corpus, "schedule_version": SCHEDULE_VERSION,
        "data": {"users": len(split), "items": int(len(split.item_ids)),
                 "interactions": int(sum(len(s) for s in split.sequences))},
        "splits": "leave-one-out per user by time: last item test, second last validation",
        "hyper_parameters": asdict(cfg),
        "best_epoch": report["best_epoch"], "train_seconds": report["train_seconds"],
        "eval_seconds": round(time.perf_counter() - started, 1),
        "validation_history": report["history"],
        "test": test,
        "weights_sha256": sha256_file(Path(out) / "model.safetensors"),
        "versions": {"torch": torch.__version__,
                     "transformers": __import__("transformers").__version__},
    }
    (Path(out) / "model_card.json").write_text(json.dumps(card, indent=1))
    return Path(out)
