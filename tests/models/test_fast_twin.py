"""The SDPA twin shares the weights, computes the same outputs, and leaves the eager
original able to return attention weights."""
from __future__ import annotations

import torch

from cleann.models.fast_twin import sdpa_twin
from cleann.models.sentiment import load_classifier


def test_twin_shares_weights_and_matches_outputs(random_dir):
    model, tok = load_classifier(random_dir)
    twin = sdpa_twin(model)
    assert twin is not model
    assert twin.config._attn_implementation == "sdpa"
    assert model.config._attn_implementation == "eager"
    for (name, p), (name2, q) in zip(model.named_parameters(), twin.named_parameters()):
        assert name == name2 and p.data_ptr() == q.data_ptr()
    enc = tok(["a b c d", "e f"], padding=True, return_tensors="pt")
    with torch.no_grad():
        eager = model(**enc, output_attentions=True)
        fast = twin(**enc)
    assert len(eager.attentions) == model.config.num_hidden_layers and eager.attentions[0].numel() > 0
    torch.testing.assert_close(fast.logits, eager.logits, rtol=1e-5, atol=1e-5)
    with torch.no_grad():  # a change to the original's weights is seen by the twin
        model.classifier.bias.add_(1.0)
        assert torch.allclose(twin(**enc).logits, model(**enc).logits, atol=1e-5)
        model.classifier.bias.sub_(1.0)
