"""Testers on hand-built cases whose answers are known independently of the testers."""
import numpy as np
import pytest
import torch

from cleann.models.bert4rec import RecTester, pad_batch, recommend
from cleann.models.sentiment import SentimentTester, infer

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


# --- cheap rows: bf16 twin (or any fast model) + float32 re-check near the boundary ----

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


def _same_outcomes(a: dict, b: dict) -> bool:
    """Same accepted sets and classes; probabilities from float32 rows (a re-check batch
    has another size than the full batch, so allow the last bits to differ)."""
    return a.keys() == b.keys() and all(
        a[k].new_class == b[k].new_class and abs(a[k].new_prob - b[k].new_prob) < 1e-5 for k in a)


def _exact(model, tok, inf):
    tester = SentimentTester(model, tok, inf)
    return tester, list(tester(ALL_SETS))


def test_bf16_twin_gives_float32_verdicts_and_outcomes(lexicon):
    from cleann.models.fast_rows import Bf16Twin, FastRows

    model, tok = lexicon
    inf = infer(model, tok, [TEXT])[0]
    ref, expected = _exact(model, tok, inf)
    assert any(expected) and not all(expected)
    fast = FastRows(Bf16Twin(model), calibration_rows=8)
    tester = SentimentTester(model, tok, inf, fast=fast)
    assert list(tester(ALL_SETS)) == expected
    assert _same_outcomes(tester.accepted, ref.accepted)  # outcomes come from float32 rows
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


def test_no_fast_rows_without_native_bf16(monkeypatch, lexicon_dir):
    from cleann.models import fast_rows
    from cleann.pipeline.batch import TextBackend

    monkeypatch.setattr(fast_rows, "cpu_has_bf16", lambda: False)
    backend = TextBackend(str(lexicon_dir))
    assert backend.fast_rows is None
    view = backend.infer([TEXT], 1, 24)[0]
    tester = backend.tester(view, "pad")
    assert tester.fast is None and list(tester([(1,), (4,)])) == [True, False]


@pytest.mark.slow
def test_fast_rows_verdicts_equal_float32_on_real_snippets():
    """Real MiniLM (the trained default when cached) on held-out rt_snippets: every verdict
    of the bf16 twin + re-check equals the float32 tester's, row by row."""
    import itertools

    from cleann.models.default import default_sentiment_dir, is_complete
    from cleann.models.fast_rows import FastRows, bf16_twin
    from cleann.models.sentiment import load_classifier
    from cleann.sources.artifacts import minilm_dir
    from cleann.sources.text import load_offline

    if is_complete(default_sentiment_dir()):
        model, tok = load_classifier(default_sentiment_dir())
    else:  # fresh head: logits near the boundary, the harder case for the re-check
        torch.manual_seed(0)
        model, tok = load_classifier(minilm_dir(), allow_new_head=True, num_labels=2)
    twin = bf16_twin(model)
    if twin is None:
        pytest.skip("this CPU has no native bf16: the back-end runs float32 only")
    df = load_offline("rt_snippets")
    texts = df[df.split == "test"].sort_values("doc_id").text.head(12).tolist()
    fast = FastRows(twin, calibration_rows=64)
    rows = differ = 0
    for inf in infer(model, tok, texts, max_length=128):
        pos = range(1, len(inf.token_ids) - 1)
        cands = ([(p,) for p in pos] + list(itertools.combinations(pos, 2)))[:96]
        exact = SentimentTester(model, tok, inf)
        quick = SentimentTester(model, tok, inf, fast=fast)
        a, b = list(exact(cands)), list(quick(cands))
        differ += sum(x != y for x, y in zip(a, b))
        rows += len(cands)
        assert _same_outcomes(quick.accepted, exact.accepted)
    assert rows > 500 and differ == 0
    assert fast.calibrated and fast.margin < 1.0  # bf16 moves a lead by hundredths, not units


@pytest.mark.parametrize("shift", [0.0, 0.3, 3.0])
def test_until_hit_settles_every_verdict_up_to_the_first_hit(lexicon, shift):
    """The first-hit search reads verdicts in order and stops at the first hit: with
    ``until_hit`` the re-checks after that hit are skipped, every verdict that comes back is
    float32's, the first hit is the same, and fewer (never more) rows are re-checked."""
    from cleann.models.fast_rows import Bf16Twin, FastRows

    model, tok = lexicon
    inf = infer(model, tok, [TEXT])[0]
    _, expected = _exact(model, tok, inf)
    first = expected.index(True)
    twin = Bf16Twin(model) if shift == 0.0 else _Shifted(model, cls=1 - inf.pred, shift=shift)
    full = SentimentTester(model, tok, inf, fast=FastRows(twin, calibration_rows=0, floor=0.5))
    lazy = SentimentTester(model, tok, inf, fast=FastRows(twin, calibration_rows=0, floor=0.5))
    assert list(full(ALL_SETS)) == expected
    got = lazy(ALL_SETS, until_hit=True)
    assert got[: first + 1] == expected[: first + 1]
    assert all(g is None or g == e for g, e in zip(got, expected))
    assert lazy.rechecked <= full.rechecked
    assert lazy.rows == full.rows == len(ALL_SETS)
    assert set(lazy.leads) == set(ALL_SETS)
    # leads come from the fast pass, so they do not depend on which rows were re-checked
    assert all(lazy.leads[c] == pytest.approx(full.leads[c]) for c in ALL_SETS)
    assert all((lazy.leads[c] < 0) == e for c, e in zip(ALL_SETS, expected) if shift == 0.0)


def test_until_hit_skips_the_rechecks_after_a_confirmed_hit(lexicon):
    """A fast model that is unsure everywhere (huge margin): without ``until_hit`` every row
    is re-checked; with it only the rows up to the first hit."""
    from cleann.models.fast_rows import Bf16Twin, FastRows

    model, tok = lexicon
    inf = infer(model, tok, [TEXT])[0]
    _, expected = _exact(model, tok, inf)
    first = expected.index(True)
    lazy = SentimentTester(model, tok, inf, fast=FastRows(Bf16Twin(model), calibration_rows=0, floor=1e9))
    got = lazy(ALL_SETS, until_hit=True)
    assert got[: first + 1] == expected[: first + 1] and all(g is None for g in got[first + 1:])
    assert lazy.rechecked == first + 1


@pytest.mark.parametrize("fixture", ["lexicon", "random"])
def test_openvino_twin_gives_float32_verdicts(request, fixture):
    """The OpenVINO copy (bf16 where the CPU has it) behind the calibrated re-check: every
    verdict and outcome equals the float32 tester's, on a hand-built and a random model."""
    from cleann.models.fast_rows import FastRows, OpenVinoTwin
    from cleann.models.sentiment import load_classifier

    if fixture == "lexicon":
        model, tok = request.getfixturevalue("lexicon")
    else:
        model, tok = load_classifier(request.getfixturevalue("random_dir"))
    inf = infer(model, tok, [TEXT])[0]
    ref, expected = _exact(model, tok, inf)
    twin = OpenVinoTwin(model, threads=1)
    raw = twin(**SentimentTester(model, tok, inf)._inputs(ALL_SETS)).logits
    exact = SentimentTester(model, tok, inf)._logits(model, ALL_SETS)
    assert raw.shape == exact.shape and float((raw - exact).abs().max()) < 0.5  # a real copy of the model
    tester = SentimentTester(model, tok, inf, fast=FastRows(twin, calibration_rows=8))
    assert list(tester(ALL_SETS)) == expected
    assert _same_outcomes(tester.accepted, ref.accepted)
