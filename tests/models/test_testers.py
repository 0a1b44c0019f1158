"""Testers on hand-built cases whose answers are known independently of the testers."""
import numpy as np
import pytest
import torch

from cleann.models.bert4rec import pad_batch, recommend
from cleann.models.sentiment import infer
from cleann.models.testers import RecTester, SentimentTester

TEXT = "good movie but bad acting and great plot"
#        1    2     3   4    5      6   7     8   (positions; 0 = [CLS], 9 = [SEP])


@pytest.mark.parametrize("removal", ["pad", "mask", "delete"])
def test_sentiment_tester_known_answers(lexicon, removal):
    model, tok = lexicon
    inf = infer(model, tok, [TEXT])[0]
    assert inf.tokens[1] == "good" and inf.tokens[4] == "bad" and inf.tokens[7] == "great"
    assert inf.pred == 1  # 2 positive vs 1 negative
    tester = SentimentTester(model, tok, inf, removal=removal)
    cands = [(1,), (2,), (4,), (7,), (9,), (1, 2), (1, 4), (1, 7), (4, 5)]
    # Class flips iff a positive word is removed without removing the negative one.
    expected = [True, False, False, True, False, True, False, True, False]
    assert list(tester(cands)) == expected
    assert tester.forward_passes == 1
    assert set(tester.accepted) == {c for c, e in zip(cands, expected) if e}
    outcome = tester.accepted[(1, 7)]
    assert outcome.new_class == 0 and 0.5 <= outcome.new_prob <= 1.0


def test_sentiment_tester_chunks_and_counts(lexicon):
    model, tok = lexicon
    inf = infer(model, tok, [TEXT])[0]
    length = len(inf.token_ids)  # 10 tokens
    tester = SentimentTester(model, tok, inf, max_tokens_per_pass=3 * length)
    cands = [(i,) for i in range(1, 9)]
    assert sum(tester(cands)) == 2
    assert tester.forward_passes == 3  # 8 candidates, 3 per pass
    tester([(1,)])
    assert tester.forward_passes == 4


def test_sentiment_tester_rejects_target_and_out_of_range(lexicon):
    model, tok = lexicon
    inf = infer(model, tok, [TEXT])[0]
    tester = SentimentTester(model, tok, inf)
    with pytest.raises(ValueError, match="target"):
        tester([(0, 1)])
    with pytest.raises(ValueError):
        tester([(10,)])
    with pytest.raises(ValueError):
        SentimentTester(model, tok, inf, removal="zero")


def _oracle_top1(rec, history_items, exclude_items):
    """Unbatched reference: one sequence, explicit right-aligned positions, no padding."""
    ids = np.append(rec.to_internal(history_items)[-(rec.max_len - 1):], rec.mask_id)
    n = len(ids)
    pos = torch.arange(rec.max_len - n, rec.max_len)[None]
    with torch.no_grad():
        logits = rec.model(input_ids=torch.tensor(ids)[None], position_ids=pos).logits[0, -1]
    logits[[0, rec.mask_id]] = -torch.inf
    logits[torch.as_tensor(rec.to_internal(exclude_items))] = -torch.inf
    return int(rec.to_external([int(logits.argmax())])[0])


def test_rec_tester_matches_unbatched_oracle(tiny_rec):
    history = [5, 9, 2, 33, 17, 8, 21, 40]
    inf = recommend(tiny_rec, [history], k=10)[0]
    assert inf.topk[0] == _oracle_top1(tiny_rec, history, history)
    cands = [(i,) for i in range(len(history))] + [(0, 1), (2, 5, 7), tuple(range(8))]
    tester = RecTester(tiny_rec, inf, max_batch=4)
    got = list(tester(cands))
    expected = []
    for c in cands:
        reduced = [h for i, h in enumerate(history) if i not in c]
        expected.append(_oracle_top1(tiny_rec, reduced, history) != inf.topk[0])
    assert got == expected
    assert any(got) and not all(got)  # the case discriminates
    assert tester.forward_passes == 3  # 11 candidates, 4 per pass
    for cand, outcome in tester.accepted.items():
        assert outcome.new_top1 != inf.topk[0]
        assert outcome.new_top1 not in history
        if outcome.new_top1 in inf.topk:
            assert inf.topk[outcome.rank_in_original_topk - 1] == outcome.new_top1
        else:
            assert outcome.rank_in_original_topk is None
    with pytest.raises(ValueError, match="target"):
        tester([(len(history),)])


# --- cheap rows: int8 twin (or any fast model) + float32 re-check near the boundary ----

ALL_SETS = [(i,) for i in range(1, 9)] + [(i, j) for i in range(1, 9) for j in range(i + 1, 9)]


class _Shifted(torch.nn.Module):
    """A stand-in fast model: the real model's logits plus ``shift`` on class ``cls``
    (a fast model that is wrong by a known amount)."""

    def __init__(self, model, cls: int, shift: float) -> None:
        super().__init__()
        self.model, self.cls, self.shift = model, cls, shift

    def forward(self, **inputs):
        from types import SimpleNamespace

        logits = self.model(**inputs).logits.clone()
        logits[:, self.cls] += self.shift
        return SimpleNamespace(logits=logits)


def _exact(model, tok, inf):
    tester = SentimentTester(model, tok, inf)
    return tester, list(tester(ALL_SETS))


def test_int8_twin_gives_float32_verdicts_and_outcomes(lexicon):
    from cleann.models.fast_rows import FastRows, int8_twin

    model, tok = lexicon
    inf = infer(model, tok, [TEXT])[0]
    ref, expected = _exact(model, tok, inf)
    assert any(expected) and not all(expected)
    fast = FastRows(int8_twin(model), calibration_rows=8)
    tester = SentimentTester(model, tok, inf, fast=fast)
    assert list(tester(ALL_SETS)) == expected
    assert tester.accepted == ref.accepted  # outcomes come from float32 rows, bit for bit
    assert fast.calibrated and tester.rechecked >= 8 + sum(expected)
    assert tester.rows == len(ALL_SETS)


def test_recheck_corrects_a_fast_model_that_is_wrong_near_the_boundary(lexicon):
    from cleann.models.fast_rows import FastRows

    model, tok = lexicon
    inf = infer(model, tok, [TEXT])[0]
    _, expected = _exact(model, tok, inf)
    wrong = _Shifted(model, cls=inf.pred, shift=3.0)  # hides flips (pred looks safer)
    # Without calibration and margin, the fast verdicts would be trusted, and they are wrong:
    naive = FastRows(wrong, floor=0.0, calibration_rows=0, factor=0.0)
    assert list(SentimentTester(model, tok, inf, fast=naive)(ALL_SETS)) != expected
    # Calibrated on the first rows, the margin covers the shift and every verdict is float32's:
    fast = FastRows(wrong, calibration_rows=4)
    tester = SentimentTester(model, tok, inf, fast=fast)
    assert list(tester(ALL_SETS)) == expected
    assert fast.margin >= 3.0 * fast.factor - 1e-4


def test_margin_grows_when_a_recheck_differs_more(lexicon):
    from cleann.models.fast_rows import FastRows

    model, tok = lexicon
    inf = infer(model, tok, [TEXT])[0]
    _, expected = _exact(model, tok, inf)
    fast = FastRows(_Shifted(model, cls=inf.pred, shift=0.01), calibration_rows=2)
    SentimentTester(model, tok, inf, fast=fast)([(5,), (6,)])
    small = fast.margin
    assert fast.calibrated and small < 1.0
    fast.model.shift = 3.0  # the fast model gets worse: the next re-checked rows show it
    tester = SentimentTester(model, tok, inf, fast=fast)
    assert list(tester(ALL_SETS)) == expected
    assert fast.margin > small and fast.margin >= 3.0 * fast.factor - 1e-4
