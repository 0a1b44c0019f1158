"""Held-out evaluation of the two models, as plain dicts (the CLI prints them as JSON).

Why here: `cleann model eval` and the docs' numbers must come from one code path that
uses exactly the held-out data the models never trained on (test splits of the review
corpora; each user's last item for BERT4Rec).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from cleann.errors import BadInputError
from cleann.models.default import default_bert4rec_dir, default_sentiment_dir, is_complete


def resolve_model(path: str | None, default: Path, train_cmd: str) -> Path | str:
    if path:
        return path
    if not is_complete(default):
        raise BadInputError(f"no trained default model in {default}; run `{train_cmd}` first "
                            f"(or pass --model PATH)")
    return default


def long_text_of(path: Path | str) -> dict | None:
    """How the model card says long texts are classified (None: truncate)."""
    card = Path(str(path)).expanduser() / "model_card.json"
    try:
        return json.loads(card.read_text()).get("long_text") if card.is_file() else None
    except (OSError, ValueError):
        return None


def eval_sentiment(model_path: str | None = None, corpora: list[str] | None = None,
                   max_length: int = 512, batch_size: int = 16,
                   long_text: dict | str | None = "auto") -> dict:
    """Accuracy per offline corpus on its test split (and over all test rows).

    ``long_text="auto"`` follows the model card (the default model classifies full
    reviews by the mean logits of chunks covering them); ``None`` truncates every text
    to ``max_length`` tokens; a dict such as ``{"mode": "chunks", "chunk_length": 128}``
    forces chunks.
    """
    import pandas as pd

    from cleann.models.finetune import CORPORA
    from cleann.models.sentiment import load_classifier
    from cleann.models.text_eval import accuracy_by_corpus
    from cleann.sources.text import load_offline

    path = resolve_model(model_path, default_sentiment_dir(), "cleann train sentiment")
    model, tok = load_classifier(path)
    if long_text == "auto":
        long_text = long_text_of(path)
    frames = [load_offline(c) for c in (corpora or CORPORA)]
    test = pd.concat([f[f["split"] == "test"] for f in frames], ignore_index=True)
    started = time.perf_counter()
    acc = accuracy_by_corpus(model, tok, test, max_length=max_length, batch_size=batch_size,
                             long_text=long_text or None, desc="held-out accuracy")
    total = sum(v["n"] for v in acc.values())
    overall = sum(v["accuracy"] * v["n"] for v in acc.values()) / max(total, 1)
    return {"model": str(path), "split": "test", "max_length": max_length,
            "long_text": long_text or {"mode": "truncate", "max_length": max_length},
            "accuracy": round(overall, 4), "n": total,
            "per_corpus": {k: {"accuracy": round(v["accuracy"], 4), "n": v["n"]}
                           for k, v in acc.items()},
            "seconds": round(time.perf_counter() - started, 1)}


def eval_bert4rec(model_path: str | None = None, ml1m_path: str | None = None,
                  negatives: tuple[str, ...] = ("popularity", "uniform"),
                  num_negatives: int = 100, seed: int = 0) -> dict:
    """HR@1/5/10, NDCG@5/10, MRR of BERT4Rec and a popularity baseline (same negatives)."""
    from cleann.models.bert4rec import load_bert4rec
    from cleann.models.bert4rec_train import evaluate
    from cleann.models.rec_split import leave_one_out

    corpus = "ml-1m" if ml1m_path else "ml-100k"
    path = resolve_model(model_path, default_bert4rec_dir(corpus), "cleann train bert4rec")
    rec = load_bert4rec(path)
    if ml1m_path:
        from cleann.sources.movielens import load_ml1m

        interactions = load_ml1m(ml1m_path)[0]
    else:
        from cleann.sources.movielens import load_offline_ml100k

        interactions = load_offline_ml100k()[0]
    split = leave_one_out(interactions)
    started = time.perf_counter()
    results = {how: evaluate(rec, split, "test", how, num_negatives, seed) for how in negatives}
    meta = json.loads((Path(path) / "bert4rec.json").read_text())
    return {"model": str(path), "corpus": corpus, "trained_on": meta.get("corpus"),
            "split": "leave-one-out test (last item per user)",
            "num_negatives": num_negatives, "seed": seed,
            "results": {how: {name: {k: (round(v, 4) if isinstance(v, float) else v)
                                     for k, v in m.items()} for name, m in r.items()}
                        for how, r in results.items()},
            "seconds": round(time.perf_counter() - started, 1)}
