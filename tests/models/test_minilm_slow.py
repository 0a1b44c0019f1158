"""Integration tests on the real MiniLM weights (slow; need the cached artifact/model)."""
import numpy as np
import pytest


pytestmark = pytest.mark.slow


def _minilm_cached():
    """The pinned MiniLM weights, fetched once through the artifact registry (83 MB)."""
    from cleann.sources.artifacts import minilm_dir

    return minilm_dir()


def test_real_minilm_attention_and_truncation():
    from cleann.models.sentiment import infer, load_classifier

    model, tok = load_classifier(_minilm_cached(), allow_new_head=True, num_labels=2)
    long = "the movie was long but the ending made it worth every minute . " * 60
    res = infer(model, tok, ["a quiet , moving film .", long], batch_size=2, max_length=512)
    assert res[0].attention.shape == (12, 8, 8) and not res[0].truncated
    assert res[1].attention.shape == (12, 512, 512) and res[1].truncated
    np.testing.assert_allclose(res[1].attention.sum(-1), 1.0, atol=1e-4)


def test_default_sentiment_model_when_trained():
    from cleann.models.default import default_sentiment_dir, is_complete
    from cleann.models.sentiment import infer, load_classifier
    from cleann.models.sentiment import SentimentTester

    folder = default_sentiment_dir()
    if not is_complete(folder):
        pytest.skip(f"default sentiment model not trained in {folder} "
                    f"(run `cleann train sentiment`)")
    model, tok = load_classifier(folder)
    texts = ["a wonderful , moving and beautifully acted film .",
             "a dull , boring and badly written mess ."]
    res = infer(model, tok, texts)
    assert [r.pred for r in res] == [1, 0]
    tester = SentimentTester(model, tok, res[0], removal="pad")
    cands = [(i,) for i in range(1, len(res[0].token_ids) - 1)]
    assert len(tester(cands)) == len(cands) and tester.forward_passes == 1
