"""BERT4Rec training schedule: lr schedule, batch count, prepared evaluation, determinism.

Tiny synthetic data only (the full ml-100k schedule is measured in
bench/bert4rec_schedule.py, never trained here).
"""
import numpy as np
import pandas as pd
import pytest
import torch

from cleann.models.bert4rec import next_item_logits
from cleann.models.bert4rec_train import (RecTrainConfig, batches_per_epoch, eval_set, evaluate,
                                          item_counts, length_bucketed_batches, lr_factor,
                                          score_eval_set, train_bert4rec)
from cleann.models.rank_metrics import rank_metrics, ranks
from cleann.models.rec_split import leave_one_out


def cyclic_split(users: int = 60, items: int = 30, length: int = 10, min_len: int = 10,
                 seed: int = 0):
    """Each user walks items cyclically (next = last % items + 1), min_len..length items."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        for t in range(int(rng.integers(min_len, length + 1))):
            rows.append((u, (u + t) % items + 1, t))
    return leave_one_out(pd.DataFrame(rows, columns=["user_id", "item_id", "ts"]))


TINY = dict(hidden_size=32, max_len=16, batch_size=16, mask_prob=0.5, num_negatives=5,
            dropout=0.0, threads=1)


def test_linear_schedule_warms_up_peaks_and_decays_to_zero():
    total = 200
    f = [lr_factor(s, total, "linear", 0.1) for s in range(total)]
    assert f[0] == pytest.approx(1 / 20) and f[19] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(f[:20], f[1:20]))  # rising warm-up
    assert f[20] == pytest.approx(1.0)  # the peak, then strictly decaying
    assert all(a > b for a, b in zip(f[20:], f[21:]))
    assert 0 < f[-1] < 0.01
    assert all(lr_factor(s, total, "constant", 0.1) == 1.0 for s in (0, 50, 199))
    with pytest.raises(ValueError):
        lr_factor(0, total, "cosine", 0.1)


def test_linear_schedule_holds_the_peak_then_decays_over_the_last_fraction():
    total = 200
    f = [lr_factor(s, total, "linear", 0.05, decay=0.3) for s in range(total)]
    assert f[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])  # 5 % warm-up
    assert f[9:140] == [1.0] * 131  # held at the peak until the last 30 %
    assert all(a > b for a, b in zip(f[140:], f[141:]))  # then linear decay to ~0
    assert f[170] == pytest.approx(0.5) and 0 < f[-1] < 0.02
    # decay=1.0 is the plain warm-up + linear decay
    plain = [lr_factor(s, total, "linear", 0.05) for s in range(total)]
    assert plain == [lr_factor(s, total, "linear", 0.05, decay=1.0) for s in range(total)]
    assert plain[10] == 1.0 and plain[11] < 1.0


def test_unknown_schedule_fails_before_any_training():
    with pytest.raises(ValueError):
        train_bert4rec(cyclic_split(), RecTrainConfig(**TINY, epochs=1, lr_schedule="cosine"),
                       log=lambda s: None)


@pytest.mark.parametrize("n,bs", [(943, 32), (943, 64), (943, 128), (101, 8), (7, 16), (256, 32)])
def test_batches_per_epoch_matches_the_bucketed_batches(n, bs):
    seqs = [np.arange(k) for k in np.random.default_rng(n).integers(3, 300, size=n)]
    assert batches_per_epoch(n, bs) == len(length_bucketed_batches(seqs, bs,
                                                                   np.random.default_rng(0)))


def test_prepared_evaluation_sorted_by_length_equals_input_order(tiny_rec):
    rng = np.random.default_rng(3)
    rows = [(u, int(i), t) for u in range(25)
            for t, i in enumerate(rng.choice(np.arange(1, 41), size=int(rng.integers(4, 30)),
                                             replace=False))]
    split = leave_one_out(pd.DataFrame(rows, columns=["user_id", "item_id", "ts"]))
    for part, how in (("test", "uniform"), ("valid", "popularity")):
        data = eval_set(tiny_rec, split, part, how, num_negatives=8, seed=4)
        got = score_eval_set(tiny_rec, data)
        # reference: histories in input order, one padded batch
        logits = next_item_logits(tiny_rec, data.hist).numpy()
        idx = np.arange(len(data.hist))
        want = rank_metrics(ranks(logits[idx, data.target], logits[idx[:, None], data.neg],
                                  seed=4))
        assert got["model"] == pytest.approx(want)
        assert evaluate(tiny_rec, split, part, how, 8, 4) == got
        pop = item_counts(data.hist, tiny_rec.n_items).astype(float)
        assert got["popularity"] == rank_metrics(ranks(pop[data.target], pop[data.neg], seed=4))


def test_linear_schedule_learns_in_few_epochs_and_reports_validation_cost():
    split = cyclic_split()
    cfg = RecTrainConfig(**{**TINY, "batch_size": 8}, epochs=40, lr=3e-3, lr_schedule="linear",
                         warmup=0.1, eval_every=10, attention_dropout=0.0)
    rec, report = train_bert4rec(split, cfg, log=lambda s: None)
    result = evaluate(rec, split, "test", num_negatives=5)
    assert result["model"]["HR@1"] > 0.8 > 0.5 > result["popularity"]["HR@1"]
    assert [h["epoch"] for h in report["history"]] == [10, 20, 30, 40]
    assert 0 <= report["valid_seconds"] <= report["train_seconds"]
    assert report["config"]["lr_schedule"] == "linear"


def test_eval_every_not_dividing_epochs_still_validates_the_last_epoch():
    cfg = RecTrainConfig(**TINY, epochs=5, eval_every=3, lr_schedule="linear")
    _, report = train_bert4rec(cyclic_split(users=20), cfg, log=lambda s: None)
    assert [h["epoch"] for h in report["history"]] == [3, 5]


def test_attention_dropout_is_set_apart_from_hidden_dropout():
    cfg = RecTrainConfig(**{**TINY, "dropout": 0.3}, epochs=1, attention_dropout=0.0)
    rec, _ = train_bert4rec(cyclic_split(users=20), cfg, log=lambda s: None)
    assert rec.model.config.attention_probs_dropout_prob == 0.0
    assert rec.model.config.hidden_dropout_prob == 0.3
    for layer in rec.model.bert.encoder.layer:
        assert layer.attention.self.dropout.p == 0.0
        assert layer.output.dropout.p == 0.3


def test_same_schedule_twice_gives_the_same_weights():
    cfg = RecTrainConfig(**{**TINY, "dropout": 0.2}, epochs=4, lr=3e-3, lr_schedule="linear",
                         eval_every=2)
    split = cyclic_split(users=30)
    a, ra = train_bert4rec(split, cfg, log=lambda s: None)
    b, rb = train_bert4rec(split, cfg, log=lambda s: None)
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert [h["valid"] for h in ra["history"]] == [h["valid"] for h in rb["history"]]


def test_default_schedule_decays_to_zero_within_its_epochs():
    cfg = RecTrainConfig()
    total = cfg.epochs * batches_per_epoch(943, cfg.batch_size)
    assert lr_factor(total - 1, total, cfg.lr_schedule, cfg.warmup) < 0.05
    assert cfg.epochs % cfg.eval_every == 0 or cfg.eval_every >= cfg.epochs
