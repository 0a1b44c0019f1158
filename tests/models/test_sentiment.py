import numpy as np
import pytest
import torch

from cleann.errors import BadInputError
from cleann.models.sentiment import infer, load_classifier


def test_inference_shapes_and_fields(lexicon):
    model, tok = lexicon
    texts = ["the movie was good", "bad", "good acting but awful plot and bad story"]
    res = infer(model, tok, texts, batch_size=2)
    assert [r.pred for r in res] == [1, 0, 0]
    heads = model.config.num_attention_heads
    for text, r in zip(texts, res):
        n = len(text.split()) + 2
        assert r.token_ids.dtype == np.int64 and r.token_ids.shape == (n,)
        assert r.tokens[0] == "[CLS]" and r.tokens[-1] == "[SEP]"
        assert r.attention.shape == (heads, n, n) and r.attention.dtype == np.float32
        np.testing.assert_allclose(r.attention.sum(-1), 1.0, atol=1e-5)  # padding trimmed
        assert r.probs.dtype == np.float32 and r.probs.shape == (2,)
        assert r.special_mask.tolist() == [True] + [False] * (n - 2) + [True]
        assert r.word_ids == [None, *range(n - 2), None]
        assert not r.truncated


def test_batching_does_not_change_results(lexicon):
    model, tok = lexicon
    texts = ["good", "the film was awful", "great great bad plot story", "a"]
    one = infer(model, tok, texts, batch_size=1)
    many = infer(model, tok, texts, batch_size=4)
    for a, b in zip(one, many):
        assert a.tokens == b.tokens and a.pred == b.pred
        np.testing.assert_allclose(a.attention, b.attention, atol=1e-5)


def test_truncation_is_recorded(lexicon):
    model, tok = lexicon
    long = "the " * 40 + "good"
    res = infer(model, tok, [long, "good"], max_length=10)
    assert res[0].truncated and len(res[0].token_ids) == 10
    assert res[0].tokens[-1] == "[SEP]" and res[0].attention.shape[-1] == 10
    assert not res[1].truncated
    # The model's own limit (24 positions) caps a larger request.
    capped = infer(model, tok, [long], max_length=512)[0]
    assert capped.truncated and len(capped.token_ids) == 24


def test_word_pieces_share_word_ids(tmp_path):
    from cleann.models.tiny import make_tiny_classifier

    folder = make_tiny_classifier(tmp_path, words=["walk", "##ing"])
    model, tok = load_classifier(folder)
    r = infer(model, tok, ["the walking"])[0]
    assert r.tokens == ["[CLS]", "the", "walk", "##ing", "[SEP]"]
    assert r.word_ids == [None, 0, 1, 1, None]


def test_sdpa_attention_is_rejected(lexicon_dir):
    model, tok = load_classifier(lexicon_dir)
    model.set_attn_implementation("sdpa")
    with pytest.raises(BadInputError, match="eager"):
        infer(model, tok, ["good"])


def test_missing_folder_and_missing_safetensors(tmp_path, lexicon_dir):
    with pytest.raises(BadInputError, match="does not exist"):
        load_classifier(tmp_path / "nope")
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(lexicon_dir)
    model.save_pretrained(tmp_path / "bin", safe_serialization=False)
    for p in (tmp_path / "bin").glob("*.safetensors"):
        p.unlink()
    with pytest.raises(BadInputError, match="safetensors"):
        load_classifier(tmp_path / "bin")


def test_checkpoint_without_classification_head(tmp_path, lexicon_dir):
    from transformers import AutoTokenizer, BertModel

    BertModel.from_pretrained(lexicon_dir).save_pretrained(tmp_path / "enc")
    AutoTokenizer.from_pretrained(lexicon_dir).save_pretrained(tmp_path / "enc")
    with pytest.raises(BadInputError, match="classification head"):
        load_classifier(tmp_path / "enc")
    model, _ = load_classifier(tmp_path / "enc", allow_new_head=True, num_labels=2)
    assert model.config.num_labels == 2


def test_hub_id_offline_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BadInputError, match="cannot load"):
        load_classifier("nobody/no-such-model")


def test_string_instead_of_list(lexicon):
    with pytest.raises(BadInputError):
        infer(*lexicon, "good")


def test_three_class_random_model(random_dir):
    model, tok = load_classifier(random_dir)
    r = infer(model, tok, ["great film", "dull"])
    assert all(x.probs.shape == (3,) for x in r)
    assert all(abs(float(x.probs.sum()) - 1) < 1e-5 for x in r)
    assert torch.is_tensor(model.classifier.weight)
