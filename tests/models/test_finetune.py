"""The default sentiment schedule on a tiny model: cached frozen layers, chunks, reproducibility."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from cleann.models import finetune as F
from cleann.models.tiny import make_tiny_classifier

WORDS = ["good", "great", "fun", "bad", "awful", "dull", "movie", "plot", "the", "a", "and", "was"]


def _frames(seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    pos, neg = ["good", "great", "fun"], ["bad", "awful", "dull"]
    filler = ["movie", "plot", "the", "a", "and", "was"]

    def text(label, n):
        words = list(rng.choice(filler, size=n))
        for i in rng.choice(n, size=max(1, n // 4), replace=False):
            words[i] = rng.choice(pos if label else neg)
        return " ".join(words)

    frames = {}
    for corpus, n_rows, length in (("pang_lee_sentences", 48, 8), ("pang_lee_reviews", 16, 40)):
        labels = np.arange(n_rows) % 2
        frames[corpus] = pd.DataFrame({
            "corpus": corpus, "doc_id": [f"{corpus}{i}" for i in range(n_rows)],
            "split": ["test" if i % 4 == 0 else "train" for i in range(n_rows)],
            "text": [text(y, length) for y in labels], "label": labels, "source": "test"})
    return frames


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_tiny_classifier(tmp_path_factory.mktemp("base"), words=WORDS, seed=5, num_layers=3,
                                max_position_embeddings=64)


def _cfg(**kw):
    return F.FinetuneConfig(corpora=("pang_lee_sentences", "pang_lee_reviews"), epochs=3, batch_size=8, lr=3e-3,
                            chunk_length=16, chunks_per_review=2, train_top_layers=1, threads=1, **kw)


def test_chunk_windows_cover_the_text_and_are_full():
    from cleann.models.text_eval import chunk_windows

    class Tok:
        cls_token_id, sep_token_id = 101, 102

    ids = list(range(1, 24))  # 23 body tokens, windows of 8 -> 6 body tokens each
    windows = chunk_windows(Tok(), ids, 8)
    assert all(w[0] == 101 and w[-1] == 102 and len(w) == 8 for w in windows)
    covered = {t for w in windows for t in w[1:-1]}
    assert covered == set(ids) and windows[-1][1:-1] == ids[-6:]
    assert chunk_windows(Tok(), [5, 6], 8) == [[101, 5, 6, 102]]


def test_cached_upper_layers_equal_the_full_model(base):
    from cleann.models.sentiment import load_classifier

    model, tok = load_classifier(base)
    ids = tok(["good movie", "the plot was awful and dull"], verbose=False)["input_ids"]
    hidden = F.encode_frozen(model, ids, 2, tok.pad_token_id, dtype=torch.float32)
    x, mask = F._stack(hidden)
    with torch.no_grad():
        cached = F.upper_logits(model, x, mask, 2)
        input_ids, m = F._pad(ids, tok.pad_token_id)
        full = model(input_ids=input_ids, attention_mask=m).logits
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=1e-4)


def test_training_examples_are_fixed_by_the_seed(base):
    from cleann.models.sentiment import load_classifier

    _, tok = load_classifier(base)
    train = pd.concat(_frames().values()).query("split == 'train'")
    a = F.training_examples(tok, train, _cfg(), np.random.default_rng(0))
    b = F.training_examples(tok, train, _cfg(), np.random.default_rng(0))
    assert a == b
    n_short = (train["corpus"] != "pang_lee_reviews").sum()
    n_reviews = (train["corpus"] == "pang_lee_reviews").sum()
    assert len(a[0]) == n_short + 2 * n_reviews
    assert max(len(x) for x in a[0][n_short:]) == 16


def test_same_command_twice_gives_the_same_model_and_accuracy(base, tmp_path):
    frames = _frames()
    cards = []
    for name in ("a", "b"):
        out = F.finetune_sentiment(tmp_path / name, base, frames, _cfg(), log=lambda s: None)
        cards.append(json.loads((out / "model_card.json").read_text()))
    assert cards[0]["weights_sha256"] == cards[1]["weights_sha256"]
    assert cards[0]["accuracy"] == cards[1]["accuracy"]
    card = cards[0]
    assert card["schedule_version"] == F.SCHEDULE_VERSION and card["long_text"]["mode"] == "chunks"
    assert card["frozen_layers"] == 2 and card["steps"] > 0
    # it trains: the loss falls over the fixed schedule
    assert card["epoch_losses"][-1] < card["epoch_losses"][0]
    assert set(card["accuracy"]) == {"pang_lee_sentences", "pang_lee_reviews"}


def test_the_clock_guard_stops_with_a_clear_message_and_saves_nothing(base, tmp_path):
    with pytest.raises(F.TrainingGuardError, match="guard.*nothing was saved"):
        F.finetune_sentiment(tmp_path / "m", base, _frames(), _cfg(max_train_minutes=1e-9), log=lambda s: None)
    assert not (tmp_path / "m" / "model.safetensors").exists()


def test_chunked_prediction_averages_over_the_whole_text(base):
    from cleann.models.sentiment import load_classifier
    from cleann.models.text_eval import predict

    model, tok = load_classifier(base)
    texts = ["good " * 50, "awful " * 3, "the movie"]
    chunked = predict(model, tok, texts, long_text={"mode": "chunks", "chunk_length": 16})
    truncated = predict(model, tok, texts, max_length=64)
    assert chunked.shape == truncated.shape == (3,)
    # short texts are one chunk: the same answer either way
    assert chunked[1] == truncated[1] and chunked[2] == truncated[2]


def test_model_eval_follows_the_card_for_long_texts(tmp_path):
    from cleann.models.evaluation import long_text_of

    assert long_text_of(tmp_path) is None  # no card (e.g. a hub checkpoint): truncate
    (tmp_path / "model_card.json").write_text(json.dumps({"long_text": F.long_text_policy(F.FinetuneConfig())}))
    assert long_text_of(tmp_path) == {"mode": "chunks", "chunk_length": 128}


def test_precision_auto_follows_the_cpu_and_is_recorded(base, tmp_path):
    from cleann.models.fast_rows import cpu_has_bf16

    assert F.resolve_precision("auto") == ("bfloat16" if cpu_has_bf16() else "float32")
    with pytest.raises(ValueError, match="precision"):
        F.resolve_precision("int8")
    out = F.finetune_sentiment(tmp_path / "m", base, _frames(), _cfg(precision="float32"), log=lambda s: None)
    assert json.loads((out / "model_card.json").read_text())["precision"] == "float32"


def test_bf16_training_differs_from_float32_only_by_rounding(base, tmp_path):
    """bf16 autocast trains the same model up to rounding: same predictions on the data."""
    cards = [json.loads((F.finetune_sentiment(tmp_path / p, base, _frames(), _cfg(precision=p),
                                              log=lambda s: None) / "model_card.json").read_text())
             for p in ("float32", "bfloat16")]
    assert cards[0]["weights_sha256"] != cards[1]["weights_sha256"]
    for corpus, result in cards[0]["accuracy"].items():
        assert abs(result["accuracy"] - cards[1]["accuracy"][corpus]["accuracy"]) <= 0.1


def test_threads_now_is_asked_before_each_step(base, tmp_path):
    asked, before = [], torch.get_num_threads()

    def threads_now():
        asked.append(torch.get_num_threads())
        return 1 if len(asked) < 5 else 2

    F.finetune_sentiment(tmp_path / "m", base, _frames(), _cfg(), log=lambda s: None, threads_now=threads_now)
    card = json.loads((tmp_path / "m" / "model_card.json").read_text())
    try:
        assert len(asked) >= card["steps"] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
