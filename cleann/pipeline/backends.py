"""Model back-ends per corpus kind, loaded once per worker process.

Why: tasks pass paths, never models; each worker process keeps the models it has loaded
in a module-level cache so a batch costs one load per process, not one per task.
Both back-ends expose the same four things the stage needs: batched inference, the
target position, the model's hidden size (CLEANN's N) and a batched tester.
``device`` (``auto|cpu|cuda``, resolved by :func:`cleann.models.device.resolve_device`)
is where the model lives; inference, tester and baselines follow the model's device.
On a CPU with native bf16 the text tester runs its rows through a bf16 copy first and
re-checks undecided rows in float32 (:mod:`cleann.models.fast_rows`; same verdicts).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

_CACHE: dict[tuple[str, str, str], Any] = {}
_LOCK = threading.Lock()


@dataclass
class SampleView:
    """What the stage needs from one inference, whatever the model kind."""

    attention: np.ndarray  # [H, L, L]
    target: int
    token_ids: np.ndarray
    tokens: list[str]
    word_ids: list[int | None] | None
    special: np.ndarray  # bool [L]
    pred: int
    probs: np.ndarray | None
    truncated: bool
    raw: Any  # the model package's own inference object (for its tester)


class TextBackend:
    kind = "imdb"

    def __init__(self, model_path: str, device: str = "cpu", fast_rows: bool = True):
        from cleann.models.device import resolve_device
        from cleann.models.sentiment import load_classifier

        self.device = resolve_device(device)
        self.model, self.tokenizer = load_classifier(model_path)
        self.model.to(self.device)
        self._fast_rows = fast_rows
        self._fast: Any = None

    @property
    def fast_rows(self):
        """The bf16 copy and its margin for tester rows (CPU only; None on a GPU or when disabled)."""
        with _LOCK:
            if self._fast is None:
                from cleann.models.fast_rows import FastRows, bf16_twin

                twin = bf16_twin(self.model) if self._fast_rows else None
                self._fast = FastRows(twin) if twin is not None else False
        return self._fast or None

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    def infer(self, inputs: list[Any], batch_size: int, max_length: int) -> list[SampleView]:
        from cleann.models.sentiment import infer

        out = infer(self.model, self.tokenizer, list(inputs), batch_size=batch_size, max_length=max_length)
        return [
            SampleView(
                attention=np.asarray(r.attention), target=0, token_ids=np.asarray(r.token_ids),
                tokens=list(r.tokens), word_ids=list(r.word_ids), special=np.asarray(r.special_mask, bool),
                pred=int(r.pred), probs=np.asarray(r.probs, dtype=np.float64), truncated=bool(r.truncated), raw=r,
            )
            for r in out
        ]

    def tester(self, view: SampleView, removal: str):
        from cleann.models.testers import SentimentTester

        return SentimentTester(self.model, self.tokenizer, view.raw, removal=removal, fast=self.fast_rows)


class RecBackend:
    kind = "movielens"

    def __init__(self, model_path: str, device: str = "cpu"):
        from cleann.models.bert4rec import load_bert4rec
        from cleann.models.device import resolve_device

        self.device = resolve_device(device)
        self.rec = load_bert4rec(model_path)
        self.rec.model.to(self.device)

    @property
    def hidden_size(self) -> int:
        return int(self.rec.hidden_size)

    def infer(self, inputs: list[Any], batch_size: int, max_length: int) -> list[SampleView]:
        from cleann.models.bert4rec import recommend

        histories = [np.asarray(h, dtype=np.int64) for h in inputs]
        out = recommend(self.rec, histories, k=10)
        views = []
        for r in out:
            items = np.concatenate([np.asarray(r.history, dtype=np.int64), np.asarray(r.topk[:1], dtype=np.int64)])
            special = np.zeros(len(items), dtype=bool)
            special[-1] = True
            views.append(SampleView(
                attention=np.asarray(r.attention), target=len(items) - 1, token_ids=items,
                tokens=[str(int(i)) for i in items], word_ids=None, special=special,
                pred=int(r.topk[0]), probs=None, truncated=len(r.history) < len(histories[len(views)]), raw=r,
            ))
        return views

    def tester(self, view: SampleView, removal: str):
        from cleann.models.testers import RecTester

        return RecTester(self.rec, view.raw)


def get_backend(kind: str, model_path: str, device: str = "cpu") -> TextBackend | RecBackend:
    """The cached back-end for (kind, model path, device) in this process."""
    from cleann.models.device import resolve_device

    resolved = str(resolve_device(device))
    key = (kind, str(model_path), resolved)
    with _LOCK:
        if key not in _CACHE:
            cls = TextBackend if kind == "imdb" else RecBackend
            _CACHE[key] = cls(str(model_path), device=resolved)
        return _CACHE[key]
