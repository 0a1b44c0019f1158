"""Tiny BERT checkpoints built in milliseconds, for tests across the project.

Why: tests must not need the network or the 83 MB MiniLM weights, yet they should go
through the same loading code as real checkpoints (``save_pretrained`` folders with
safetensors, a ``vocab.txt`` tokenizer). Two kinds of classifier:

- random (seeded) weights: realistic shapes, arbitrary decisions;
- a *lexicon* classifier (``positive_words`` / ``negative_words``): hand-set weights so
  that the predicted class is exactly ``1 if #positive > #negative else 0`` (ties give
  class 0), counting occurrences of the given words anywhere in the input. Replacing a
  decisive word by [PAD]/[MASK] or deleting it changes the class in a known way, which
  gives testers and explanation tests a ground truth. Its last-layer attention is
  seeded-random (and non-degenerate) but does not influence the decision.

Construction of the lexicon classifier (hidden H, direction ``u`` with zero mean):
embeddings put ``+u``/``-u`` on positive/negative words and zero elsewhere, plus
equal-norm position vectors orthogonal to ``u``, so after the embedding LayerNorm each
token's ``u``-coordinate is ``s_i * c`` with ``s_i`` in {-1, 0, 1} and the same ``c``.
Layer 0 has zero query/key weights (uniform attention over real tokens) and a value
projection onto ``u``, so [CLS] receives ``c * sum(s_i) / L`` along ``u``; its sign
survives LayerNorm. Later layers have zero value/feed-forward weights (identity on the
residual stream). Pooler and classifier read the ``u``-coordinate only.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
DEFAULT_WORDS = [
    "the", "a", "an", "movie", "film", "plot", "acting", "story", "actor", "scene",
    "is", "was", "it", "this", "and", "but", "not", "very", "really", "good", "bad",
    "great", "awful", "boring", "fun", "dull", "brilliant", "terrible", "love", "hate",
    ".", ",", "!",
]


def _vocab(extra: list[str]) -> list[str]:
    """Special tokens first (so [PAD]=0 ... [MASK]=4), then words, each once, in order."""
    seen = set(SPECIAL_TOKENS)
    vocab = list(SPECIAL_TOKENS)
    for word in [*DEFAULT_WORDS, *extra]:
        word = word.lower()
        if word not in seen:
            seen.add(word)
            vocab.append(word)
    return vocab


def _save_tokenizer(out_dir: Path, vocab: list[str], model_max_length: int) -> None:
    from transformers import BertTokenizerFast

    (out_dir / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    # transformers 5 takes ``vocab`` (a dict or path); the old ``vocab_file`` is ignored.
    tok = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True,
                            model_max_length=model_max_length)
    tok.save_pretrained(out_dir)


def make_tiny_classifier(
    out_dir: str | Path,
    words: list[str] | None = None,
    seed: int = 0,
    num_labels: int = 2,
    *,
    positive_words: list[str] | None = None,
    negative_words: list[str] | None = None,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 2,
    max_position_embeddings: int = 64,
) -> Path:
    """Save a tiny ``BertForSequenceClassification`` checkpoint folder and return it.

    ``words`` extend the vocabulary (lower-cased, whole words; anything else maps to
    [UNK]). Giving ``positive_words`` or ``negative_words`` builds the deterministic
    lexicon classifier described in the module docstring (needs ``num_labels=2`` and
    ``num_layers >= 2``). Loads with ``AutoModelForSequenceClassification`` /
    ``AutoTokenizer`` or :func:`cleann.models.sentiment.load_classifier`.
    """
    from transformers import BertConfig, BertForSequenceClassification

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    positive = [w.lower() for w in positive_words or []]
    negative = [w.lower() for w in negative_words or []]
    lexicon = bool(positive or negative)
    if lexicon and (num_labels != 2 or num_layers < 2):
        raise ValueError("the lexicon classifier needs num_labels=2 and num_layers>=2")
    if set(positive) & set(negative):
        raise ValueError("a word cannot be both positive and negative")
    vocab = _vocab([*(words or []), *positive, *negative])
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=hidden_size, num_hidden_layers=num_layers,
        num_attention_heads=num_heads, intermediate_size=2 * hidden_size,
        max_position_embeddings=max_position_embeddings, type_vocab_size=2,
        num_labels=num_labels, pad_token_id=0, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, initializer_range=0.2,  # peaked, varied attention
        id2label={i: ("negative", "positive")[i] if num_labels == 2 else f"LABEL_{i}"
                  for i in range(num_labels)},
    )
    config.label2id = {v: k for k, v in config.id2label.items()}
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config).eval()
    if lexicon:
        index = {w: i for i, w in enumerate(vocab)}
        _set_lexicon_weights(model, [index[w] for w in positive],
                             [index[w] for w in negative], seed)
    model.save_pretrained(out, safe_serialization=True)
    _save_tokenizer(out, vocab, max_position_embeddings)
    if lexicon:
        (out / "lexicon.json").write_text(
            json.dumps({"positive": positive, "negative": negative,
                        "rule": "class 1 iff count(positive) > count(negative)"}, indent=1))
    return out


@torch.no_grad()
def _set_lexicon_weights(model, pos_ids: list[int], neg_ids: list[int], seed: int) -> None:
    """Hand-set weights so the class is the sign of (#positive - #negative); see module doc."""
    bert, hidden = model.bert, model.config.hidden_size
    gen = torch.Generator().manual_seed(seed)
    u = torch.zeros(hidden)
    u[0], u[1] = 1.0, -1.0  # zero mean, so LayerNorm's centring leaves it alone
    u = u / u.norm()
    emb = bert.embeddings
    emb.word_embeddings.weight.zero_()
    emb.word_embeddings.weight[pos_ids] = 4.0 * u
    emb.word_embeddings.weight[neg_ids] = -4.0 * u
    emb.token_type_embeddings.weight.zero_()
    # Position vectors: random, zero mean, orthogonal to u, all of the same norm.
    pos = torch.randn(emb.position_embeddings.weight.shape, generator=gen)
    pos = pos - pos.mean(dim=1, keepdim=True)
    pos = pos - (pos @ u)[:, None] * u[None, :]
    emb.position_embeddings.weight.copy_(4.0 * pos / pos.norm(dim=1, keepdim=True))
    for ln in [emb.LayerNorm] + [m for m in model.modules()
                                 if isinstance(m, torch.nn.LayerNorm) and m is not emb.LayerNorm]:
        ln.weight.fill_(1.0)
        ln.bias.zero_()
    proj_u = torch.outer(u, u)
    for depth, layer in enumerate(bert.encoder.layer):
        att = layer.attention
        if depth == 0:  # uniform attention; values carry the u-coordinate to [CLS]
            att.self.query.weight.zero_()
            att.self.key.weight.zero_()
            att.self.value.weight.copy_(proj_u)
            att.output.dense.weight.copy_(torch.eye(hidden))
        else:  # varied random attention (for explanations) with no effect on values
            att.self.query.weight.copy_(0.15 * torch.randn(hidden, hidden, generator=gen))
            att.self.key.weight.copy_(0.15 * torch.randn(hidden, hidden, generator=gen))
            att.self.value.weight.zero_()
            att.output.dense.weight.zero_()
        for lin in (att.self.query, att.self.key, att.self.value, att.output.dense):
            lin.bias.zero_()
        layer.intermediate.dense.weight.zero_()
        layer.intermediate.dense.bias.zero_()
        layer.output.dense.weight.zero_()
        layer.output.dense.bias.zero_()
    # Pooler: tanh(k * <h, u>) in every unit; classifier: logit1 - logit0 = 6 * pooled.
    bert.pooler.dense.weight.copy_(50.0 * u[None, :].repeat(hidden, 1))
    bert.pooler.dense.bias.zero_()
    w = torch.zeros(2, hidden)
    w[1, 0], w[0, 0] = 3.0, -3.0
    model.classifier.weight.copy_(w)
    # A tiny margin for class 0 makes exact ties (equal counts) robust to float rounding.
    model.classifier.bias.copy_(torch.tensor([1e-3, 0.0]))


def make_tiny_bert4rec(
    out_dir: str | Path,
    n_items: int,
    seed: int = 0,
    *,
    hidden_size: int = 16,
    num_layers: int = 2,
    num_heads: int = 2,
    max_len: int = 32,
) -> Path:
    """Save a tiny random BERT4Rec checkpoint (item ids 1..n_items) and return its folder.

    Same on-disk format as a trained one (see :mod:`cleann.models.bert4rec`), so it loads
    with :func:`cleann.models.bert4rec.load_bert4rec`.
    """
    from cleann.models.bert4rec import new_bert4rec, save_bert4rec

    torch.manual_seed(seed)
    rec = new_bert4rec(list(range(1, n_items + 1)), hidden_size=hidden_size,
                       num_layers=num_layers, num_heads=num_heads, max_len=max_len,
                       dropout=0.0, initializer_range=0.2)
    return save_bert4rec(rec, out_dir)
