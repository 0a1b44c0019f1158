import json

import numpy as np
import pandas as pd
import pytest
import torch

from cleann.errors import BadInputError
from cleann.models.bert4rec import load_bert4rec, pad_batch, recommend
from cleann.models.bert4rec_train import RecTrainConfig, cloze_batch, evaluate, train_bert4rec
from cleann.models.rank_metrics import rank_metrics, ranks, sample_negatives
from cleann.models.rec_split import leave_one_out


def test_leave_one_out_orders_by_time_with_stable_ties():
    df = pd.DataFrame({
        "user_id": [2, 1, 1, 1, 1, 2, 2, 3, 3],
        "item_id": [30, 13, 11, 12, 14, 10, 20, 7, 8],
        "ts":      [5, 40, 10, 10, 50, 1, 3, 1, 2],
    })
    split = leave_one_out(df)
    assert split.users.tolist() == [1, 2]  # user 3 has only 2 interactions
    assert split.sequences[0].tolist() == [11, 12, 13, 14]  # tie at ts=10 keeps row order
    assert split.train(0).tolist() == [11, 12]
    assert split.valid(0)[0].tolist() == [11, 12] and split.valid(0)[1] == 13
    assert split.test(0)[0].tolist() == [11, 12, 13] and split.test(0)[1] == 14
    assert split.test(1)[1] == 30 and split.valid(1)[1] == 20
    assert split.item_ids.tolist() == [10, 11, 12, 13, 14, 20, 30]
    with pytest.raises(BadInputError):
        leave_one_out(df.drop(columns="ts"))


def test_cloze_masking_is_seeded_and_consistent():
    seqs = [np.arange(1, 31), np.array([5, 6]), np.arange(1, 11)]
    a = cloze_batch(seqs, mask_id=99, max_len=12, mask_prob=0.3, rng=np.random.default_rng(7))
    b = cloze_batch(seqs, mask_id=99, max_len=12, mask_prob=0.3, rng=np.random.default_rng(7))
    for key in a:
        assert torch.equal(a[key], b[key])
    ids, labels, mask = a["input_ids"], a["labels"], a["attention_mask"]
    assert ids.shape == (3, 12)  # the 30-item sequence is cut to a 12-item window
    masked = labels != -100
    assert bool((ids[masked] == 99).all())  # every label position is a [MASK]
    assert bool((ids[~masked & (mask == 1)] != 99).all())
    assert bool((masked.sum(1) >= 1).all())  # at least one mask per sequence
    assert bool((labels[mask == 0] == -100).all())  # no labels on padding
    assert mask[1].tolist() == [0] * 10 + [1, 1]  # left padding
    window = torch.where(masked[0], labels[0], ids[0])
    assert (np.diff(window.numpy()) == 1).all()  # a contiguous window of the sequence
    rate = masked[0].float().mean()
    assert 0.0 < rate < 0.8


def test_pad_batch_right_aligns_positions():
    batch = pad_batch([np.array([3, 4, 5]), np.array([7])], max_len=10)
    assert batch["input_ids"].tolist() == [[3, 4, 5], [0, 0, 7]]
    assert batch["position_ids"].tolist() == [[7, 8, 9], [0, 0, 9]]


def test_recommend_abductive_attention(tiny_rec):
    hists = [[1, 2, 3], [10, 20, 30, 40, 5, 6], list(range(1, 41))[:35]]
    res = recommend(tiny_rec, hists, k=5)
    heads = tiny_rec.model.config.num_attention_heads
    for h, r in zip(hists, res):
        n = min(len(h), tiny_rec.max_len - 1)
        assert r.history.tolist() == h[-n:]
        assert r.topk.shape == (5,) and not set(r.topk) & set(r.history)
        assert np.all(np.diff(r.scores) <= 0)
        assert r.attention.shape == (heads, n + 1, n + 1)
        np.testing.assert_allclose(r.attention.sum(-1), 1.0, atol=1e-5)
        assert r.sequence[-1] == r.topk[0] and r.target == n
    # Batched equals one at a time.
    single = recommend(tiny_rec, [hists[1]], k=5)[0]
    assert single.topk.tolist() == res[1].topk.tolist()
    np.testing.assert_allclose(single.attention, res[1].attention, atol=1e-5)


def test_recommend_errors(tiny_rec, tmp_path):
    with pytest.raises(BadInputError, match="not in the BERT4Rec vocabulary"):
        recommend(tiny_rec, [[1, 999]])
    with pytest.raises(BadInputError):
        recommend(tiny_rec, [[]])
    with pytest.raises(BadInputError):
        load_bert4rec(tmp_path)


def test_rank_metrics_known_values():
    m = rank_metrics(np.array([1, 2, 11]))
    assert m["HR@1"] == pytest.approx(1 / 3) and m["HR@10"] == pytest.approx(2 / 3)
    assert m["NDCG@10"] == pytest.approx((1 + 1 / np.log2(3)) / 3)
    assert m["MRR"] == pytest.approx((1 + 0.5 + 1 / 11) / 3)
    r = ranks(np.array([5.0, 1.0]), np.array([[1.0, 2.0, 6.0], [1.0, 1.0, 0.0]]))
    assert r[0] == 2 and 1 <= r[1] <= 3


def test_negatives_are_unseen_and_seeded():
    counts = np.arange(21)
    seen = [np.array([1, 2, 3]), np.arange(1, 10)]
    a = sample_negatives(seen, 20, counts, num=8, seed=3)
    b = sample_negatives(seen, 20, counts, num=8, seed=3)
    assert np.array_equal(a, b)
    for s, row in zip(seen, a):
        assert not set(row) & set(s) and len(set(row)) == 8 and row.min() >= 1


def test_training_learns_a_deterministic_pattern(tmp_path):
    # Each user walks items cyclically: the next item is always (last % 30) + 1.
    rows = []
    for u in range(60):
        for t in range(10):
            rows.append((u, (u + t) % 30 + 1, t))
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "ts"])
    split = leave_one_out(df)
    cfg = RecTrainConfig(hidden_size=32, max_len=16, epochs=80, batch_size=16, lr=3e-3,
                         mask_prob=0.5, eval_every=20, num_negatives=5, dropout=0.0,
                         patience=10, threads=1)
    rec, report = train_bert4rec(split, cfg, log=lambda s: None)
    result = evaluate(rec, split, "test", num_negatives=5)
    assert result["model"]["HR@1"] > 0.8 > 0.5 > result["popularity"]["HR@1"]
    assert report["best_epoch"] in (20, 40, 60, 80)


def test_length_bucketed_batches_cover_every_user_once():
    from cleann.models.bert4rec_train import length_bucketed_batches

    seqs = [np.arange(n) for n in np.random.default_rng(0).integers(3, 200, size=101)]
    batches = length_bucketed_batches(seqs, 8, np.random.default_rng(1), window=4)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(101))
    assert max(len(b) for b in batches) == 8
    spread = np.mean([np.ptp([len(seqs[i]) for i in b]) for b in batches])
    assert spread < 100  # similar lengths within a batch
