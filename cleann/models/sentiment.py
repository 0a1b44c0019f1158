"""Load any BERT-family sequence classifier safely and run it with attention capture.

Why: CLEANN needs, per input, the predicted class and the last layer's attention per
head. transformers 5 returns no attention weights under the default ``sdpa`` backend,
so models are loaded with ``attn_implementation="eager"`` and every batch checks that
one attention tensor per layer came back. Loading is restricted to safetensors and
never runs remote code, because users point this at checkpoints from anywhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from cleann.errors import BadInputError
from cleann.models.device import model_device

_HEAD_PREFIXES = ("classifier.", "score.")


@dataclass
class TextInference:
    """One classified text: tokens, prediction and last-layer attention over real tokens."""

    token_ids: np.ndarray       # int64 [L], including special tokens such as [CLS]/[SEP]
    tokens: list[str]
    pred: int
    probs: np.ndarray           # float32 [C]
    attention: np.ndarray       # float32 [H, L, L], last layer, padding removed
    truncated: bool             # the text had more tokens than max_length
    special_mask: np.ndarray    # bool [L], True for special tokens
    word_ids: list[int | None]  # word index of each token (None for special tokens)

    @property
    def target(self) -> int:
        """Position of the classification token ([CLS]), the explanation target."""
        return 0


def _check_local(folder: Path) -> None:
    if not folder.is_dir():
        raise BadInputError(f"model {folder}: folder does not exist")
    if not (folder / "config.json").is_file():
        raise BadInputError(f"model {folder}: no config.json (not a transformers checkpoint)")
    if not any(folder.glob("*.safetensors")):
        names = ", ".join(sorted(p.name for p in folder.iterdir())[:8])
        raise BadInputError(f"model {folder}: no *.safetensors weights (only safetensors are "
                            f"loaded, never pickle .bin files); found: {names}")


def load_classifier(path_or_id: str | Path, *, allow_new_head: bool = False,
                    num_labels: int | None = None):
    """Return ``(model, tokenizer)`` for a local folder or hub id, in eval mode.

    Raises ``BadInputError`` for a missing folder, no safetensors weights, a checkpoint
    without a classification head (unless ``allow_new_head``, used for fine-tuning),
    or an architecture that cannot return attention weights (sdpa/flash only).
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    name = str(path_or_id)
    local = Path(name).expanduser()
    if local.exists() or not _looks_like_hub_id(name):
        _check_local(local)
        name = str(local)
    kwargs = {"num_labels": num_labels} if num_labels else {}
    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(
            name, attn_implementation="eager", use_safetensors=True, trust_remote_code=False,
            output_loading_info=True, **kwargs)
    except ValueError as exc:  # unsupported architecture or attention backend
        raise BadInputError(f"model {name}: cannot load as a sequence classifier with eager "
                            f"attention: {str(exc).splitlines()[0]}") from None
    except OSError as exc:  # not found locally / on the hub, or no safetensors file
        raise BadInputError(f"model {name}: cannot load: {str(exc).splitlines()[0]}") from None
    missing = [k for k in info.get("missing_keys", []) if k.startswith(_HEAD_PREFIXES)]
    if missing and not allow_new_head:
        raise BadInputError(f"model {name}: checkpoint has no trained classification head "
                            f"(missing {', '.join(sorted(missing))}); fine-tune it first")
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise BadInputError(f"model {name}: cannot load its tokenizer: "
                            f"{str(exc).splitlines()[0]}") from None
    return model.eval(), tokenizer


def _looks_like_hub_id(name: str) -> bool:
    """``name`` or ``owner/name`` (no path syntax) that is not a local path is a hub id."""
    parts = name.split("/")
    return (len(parts) <= 2 and all(parts) and not name.startswith((".", "~"))
            and "\\" not in name)


def effective_max_length(model, tokenizer, max_length: int) -> int:
    """The usable length: the request, capped by the model's position embeddings."""
    limit = int(getattr(model.config, "max_position_embeddings", max_length) or max_length)
    return max(2, min(int(max_length), limit))


def infer(model, tokenizer, texts: Sequence[str], batch_size: int = 32,
          max_length: int = 512) -> list[TextInference]:
    """Classify ``texts`` in batches (longest first, dynamic padding), capturing attention.

    Texts longer than ``max_length`` tokens (after the model's own cap) are truncated and
    marked ``truncated``. Results come back in input order.
    """
    if isinstance(texts, str):
        raise BadInputError("texts must be a list of strings, not one string")
    length = effective_max_length(model, tokenizer, max_length)
    full = tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)
    n_full = np.array([len(ids) for ids in full["input_ids"]], dtype=np.int64)
    order = np.argsort(-n_full, kind="stable")
    results: list[TextInference | None] = [None] * len(texts)
    model.eval()
    device = model_device(model)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        enc = tokenizer([texts[i] for i in idx], truncation=True, max_length=length,
                        padding=True, return_tensors="pt", return_special_tokens_mask=True)
        special = enc.pop("special_tokens_mask").numpy().astype(bool)
        with torch.no_grad():
            out = model(**{k: v.to(device) for k, v in enc.items()}, output_attentions=True)
        check_attentions(model, out)
        probs = torch.softmax(out.logits.float(), dim=-1).cpu().numpy()
        att = out.attentions[-1].float().cpu().numpy()
        mask = enc["attention_mask"].numpy().astype(bool)
        ids = enc["input_ids"].numpy()
        for row, i in enumerate(idx):
            keep = np.flatnonzero(mask[row])
            tok_ids = ids[row, keep].astype(np.int64)
            word_ids = enc.word_ids(row) if enc.encodings else [None] * len(mask[row])
            results[i] = TextInference(
                token_ids=tok_ids,
                tokens=tokenizer.convert_ids_to_tokens(tok_ids.tolist()),
                pred=int(probs[row].argmax()),
                probs=probs[row].astype(np.float32),
                attention=np.ascontiguousarray(att[row][:, keep][:, :, keep], dtype=np.float32),
                truncated=bool(n_full[i] > length),
                special_mask=special[row, keep],
                word_ids=[word_ids[k] for k in keep],
            )
    return results  # type: ignore[return-value]


def check_attentions(model, out) -> None:
    """Fail clearly when the backend returned no per-layer attention (e.g. sdpa)."""
    layers = int(model.config.num_hidden_layers)
    got = len(out.attentions or ())
    if got != layers or any(a is None for a in out.attentions):
        raise BadInputError(f"model returned {got} attention tensors for {layers} layers; "
                            f"it must run with attn_implementation='eager'")
