"""BERT4Rec Cloze training and sampled-negative evaluation (with a popularity baseline).

Why: no BERT4Rec checkpoint can be downloaded here, so the embedded default is trained
once on ml-100k (or a user's ml-1m) and cached. Training follows the paper: random
items of each training sequence are replaced by [MASK] and predicted (seeded masking);
the last two items of each user are held out (validation picks the best epoch, test is
reported once).
"""
from __future__ import annotations

import json
import math
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
SCHEDULE_VERSION = 3  # 3: 30 epochs of batch 8, lr held then annealed (was 100 x 32, constant)


@dataclass
class RecTrainConfig:
    """Hyper-parameters; defaults are the paper's model sizes and a CPU-sized schedule.

    The schedule (measured in bench/results/bert4rec_schedule.md, 2-core VM): BERT4Rec
    first sits on a popularity plateau for ~300 optimizer steps, and a larger lr does
    not shorten it (2e-3 at batch 16, 3e-3 at 64, 4e-3 at 128 never left it in 30
    epochs), so small batches (more steps per epoch for the same CPU per epoch) matter
    most; lr 1e-3 held, annealed to 0 over the last 30 % of the steps. No
    attention-probability dropout: dropout's Bernoulli draws were 24 % of an epoch's
    CPU, most of them on the attention probabilities (epoch ~15 % cheaper without;
    hidden dropout 0.2 stays). 30 epochs of batch 8: ~90 s of one core instead of
    ~290 s for 100 epochs of batch 32, test HR@10 0.670 / NDCG@10 0.407 (uniform
    negatives) against 0.681 / 0.405.
    """

    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 2
    max_len: int = 200
    dropout: float = 0.2
    attention_dropout: float | None = 0.0  # None: same as dropout
    mask_prob: float = 0.2
    epochs: int = 30
    max_train_minutes: float = 240.0  # guard only: abort (nothing saved) past this
    batch_size: int = 8
    lr: float = 1e-3
    lr_schedule: str = "linear"  # warm-up, hold, linear decay to 0; or "constant"
    warmup: float = 0.02  # fraction of all steps (linear schedule only)
    decay: float = 0.3  # linear schedule: decay to 0 over this last fraction of all steps
    weight_decay: float = 0.01
    eval_every: int = 10  # validation NDCG@10 every N epochs (and after the last); best kept
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


@dataclass
class EvalSet:
    """One held-out part with its seeded negatives, built once and scored many times.

    Why: validation runs several times per training; drawing the negatives again each
    time cost ~0.1 s and gave the same ones (same seed).
    """

    hist: list[np.ndarray]
    target: np.ndarray
    neg: np.ndarray
    seed: int


def eval_set(rec: Bert4Rec, split: LeaveOneOut, part: str = "test",
             negatives: str = "popularity", num_negatives: int = 100, seed: int = 0) -> EvalSet:
    """Histories, held-out targets and seeded negatives of ``part`` ("test" or "valid")."""
    pairs = [split.test(u) if part == "test" else split.valid(u) for u in range(len(split))]
    hist = [rec.to_internal(h) for h, _ in pairs]
    target = rec.to_internal([t for _, t in pairs])
    full = [rec.to_internal(s) for s in split.sequences]
    neg = sample_negatives(full, rec.n_items, item_counts(full, rec.n_items),
                           num=num_negatives, how=negatives, seed=seed)
    return EvalSet(hist=hist, target=target, neg=neg, seed=seed)


def score_eval_set(rec: Bert4Rec, data: EvalSet) -> dict[str, dict[str, float]]:
    """Metrics of the model and of the popularity baseline on a prepared :class:`EvalSet`.

    Histories are run sorted by length (each batch padded to its own longest history,
    about half the tokens of input order on ml-100k) and the rows put back in order.
    """
    rec.model.eval()
    order = np.argsort([min(len(h), rec.max_len - 1) for h in data.hist], kind="stable")
    sorted_logits = next_item_logits(rec, [data.hist[i] for i in order]).numpy()
    logits = np.empty_like(sorted_logits)
    logits[order] = sorted_logits
    rows = np.arange(len(data.hist))[:, None]
    model_rank = ranks(logits[rows[:, 0], data.target], logits[rows, data.neg], seed=data.seed)
    pop = item_counts(data.hist, rec.n_items).astype(np.float64)
    pop_rank = ranks(pop[data.target], pop[data.neg], seed=data.seed)
    return {"model": rank_metrics(model_rank), "popularity": rank_metrics(pop_rank)}


def evaluate(rec: Bert4Rec, split: LeaveOneOut, part: str = "test", negatives: str = "popularity",
             num_negatives: int = 100, seed: int = 0) -> dict[str, dict[str, float]]:
    """HR@1/5/10, NDCG@5/10, MRR of the model and of a popularity baseline on ``part``.

    Both score the same seeded negatives. The popularity baseline ranks by the number of
    interactions visible to the model for that part (all items before the held-out one).
    """
    return score_eval_set(rec, eval_set(rec, split, part, negatives, num_negatives, seed))


def batches_per_epoch(n_seqs: int, batch_size: int, window: int = 8) -> int:
    """How many batches :func:`length_bucketed_batches` makes (for the lr schedule)."""
    span = batch_size * window
    return sum(math.ceil(min(span, n_seqs - start) / batch_size)
               for start in range(0, n_seqs, span))


def lr_factor(step: int, total: int, schedule: str, warmup: float, decay: float = 1.0) -> float:
    """Multiplier of ``lr`` before optimizer step ``step`` (0-based) of ``total``.

    ``constant``: 1. ``linear``: linear warm-up over the first ``warmup`` fraction of
    the steps, constant, then linear decay to 0 over the last ``decay`` fraction (1.0:
    decay right after the warm-up). Why: BERT4Rec sits on a popularity plateau for its
    first few hundred steps whatever the lr, so a short schedule keeps the peak lr long
    and only anneals at the end, which makes the last epoch the best one.
    """
    if schedule == "constant":
        return 1.0
    if schedule != "linear":
        raise ValueError(f"lr_schedule: unknown {schedule!r} (constant or linear)")
    warm = max(1, int(round(warmup * total)))
    if step < warm:
        return (step + 1) / warm
    cool = max(1, min(total - warm, int(round(decay * total))))
    return max(0.0, min(1.0, (total - step) / cool))


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
    if cfg.attention_dropout is not None:
        rec.model.config.attention_probs_dropout_prob = cfg.attention_dropout
        for layer in rec.model.bert.encoder.layer:
            layer.attention.self.dropout.p = cfg.attention_dropout
    train = [rec.to_internal(split.train(u)) for u in range(len(split))]
    opt = torch.optim.AdamW(rec.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total_steps = cfg.epochs * batches_per_epoch(len(train), cfg.batch_size)
    lr_factor(0, total_steps, cfg.lr_schedule, cfg.warmup)  # unknown schedule: fail early
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: lr_factor(step, total_steps, cfg.lr_schedule, cfg.warmup, cfg.decay))
    valid = eval_set(rec, split, "valid", cfg.negatives, cfg.num_negatives, cfg.seed)
    best, best_state, best_epoch, waited, history = -1.0, None, 0, 0, []
    valid_seconds = 0.0
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
            sched.step()
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
            valid_started = time.perf_counter()
            val = score_eval_set(rec, valid)
            valid_seconds += time.perf_counter() - valid_started
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
              "train_seconds": round(time.perf_counter() - started, 1),
              "valid_seconds": round(valid_seconds, 1), "history": history}
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
        "valid_seconds": report["valid_seconds"],
        "eval_seconds": round(time.perf_counter() - started, 1),
        "validation_history": report["history"],
        "test": test,
        "weights_sha256": sha256_file(Path(out) / "model.safetensors"),
        "versions": {"torch": torch.__version__,
                     "transformers": __import__("transformers").__version__},
    }
    (Path(out) / "model_card.json").write_text(json.dumps(card, indent=1))
    return Path(out)
