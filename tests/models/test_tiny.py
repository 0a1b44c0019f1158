import json
import time

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from cleann.models.tiny import make_tiny_classifier


def _predict(folder, texts):
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tok = AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():
        return model(**tok(texts, padding=True, return_tensors="pt")).logits.argmax(-1).tolist()


def test_lexicon_classifier_counts_decisive_words(lexicon_dir):
    texts = {
        "the movie was good": 1,
        "the movie was bad": 0,
        "good good bad": 1,
        "good bad": 0,  # tie -> class 0
        "great awful good bad": 0,
        "the plot": 0,
        "great great great awful awful": 1,
        "great great great awful awful awful": 0,
        "GOOD acting": 1,  # lower-cased
    }
    assert _predict(lexicon_dir, list(texts)) == list(texts.values())
    card = json.loads((lexicon_dir / "lexicon.json").read_text())
    assert card["positive"] == ["good", "great"]


def test_lexicon_ignores_padding_and_length(lexicon_dir):
    # Same text alone and next to a long one (padding) gives the same class.
    long = "the movie " * 9 + "bad"
    assert _predict(lexicon_dir, ["good", long]) == [1, 0]
    assert _predict(lexicon_dir, ["good"]) == [1]


def test_tiny_classifier_is_fast_and_loadable(tmp_path):
    make_tiny_classifier(tmp_path / "warm")
    start = time.perf_counter()
    folder = make_tiny_classifier(tmp_path / "m", words=["zebra"], seed=5, num_labels=3)
    assert time.perf_counter() - start < 1.0
    assert {"config.json", "model.safetensors", "vocab.txt"} <= {p.name for p in folder.iterdir()}
    tok = AutoTokenizer.from_pretrained(folder)
    assert tok.convert_ids_to_tokens(tok("zebra")["input_ids"]) == ["[CLS]", "zebra", "[SEP]"]
    assert tok.pad_token_id == 0 and tok.mask_token_id == 4
    assert len(_predict(folder, ["zebra film"])) == 1


def test_lexicon_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        make_tiny_classifier(tmp_path, positive_words=["good"], negative_words=["good"])
    with pytest.raises(ValueError):
        make_tiny_classifier(tmp_path, positive_words=["good"], num_labels=3)
