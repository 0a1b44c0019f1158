"""Load any BERT-family sequence classifier safely and run it with attention capture.

Why: CLEANN needs, per input, the predicted class and the last layer's attention per
head. transformers 5 returns no attention weights under the default ``sdpa`` backend,
so models are loaded with ``attn_implementation="eager"`` and every batch checks that
one attention tensor per layer came back. Loading is restricted to safetensors and
never runs remote code, because users point this at checkpoints from anywhere.

The removal tester lives here too (``SentimentTester``): CLEANN's search tests every
candidate set of one size at once (engine contract ``tester(candidates) ->
Sequence[bool]``), so all candidates of a call go through the classifier together, in as
few forward passes as the memory budget allows. Positions index ``TextInference.token_ids``
(with [CLS]/[SEP]); the target position ([CLS]) is never removable.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from cleann.errors import BadInputError
from cleann.models.device import model_device
from cleann.models.fast_rows import FastRows

_HEAD_PREFIXES = ("classifier.", "score.")
REMOVALS = ("pad", "mask", "delete")


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


def check_positions(cands: Sequence[tuple[int, ...]], length: int, target: int) -> None:
    """The removal testers' contract: positions inside the sequence, never the target."""
    for cand in cands:
        if any(p < 0 or p >= length for p in cand):
            raise ValueError(f"candidate {cand}: positions must be in [0, {length})")
        if target in cand:
            raise ValueError(f"candidate {cand} contains the target position {target}")


@dataclass
class TextOutcome:
    """Model output after removing one accepted candidate set."""

    new_class: int
    new_prob: float  # probability of the new class


class SentimentTester:
    """Replace (by [PAD] as in the reference, or [MASK]) or delete candidate tokens.

    Returns, per candidate, whether the predicted class differs from
    ``inference.pred``. ``forward_passes`` counts batched passes of the searched rows (float32 re-checks of
    the fast copy are counted apart, in ``rechecked``); ``accepted`` maps each
    accepted candidate to its :class:`TextOutcome`.

    ``fast``: an optional :class:`cleann.models.fast_rows.FastRows` (a bf16 copy of
    ``model`` and its measured margin) that runs every row first; rows it cannot decide
    with a lead above the margin, and rows whose class changed, are run again by
    ``model`` (float32), so the verdicts and outcomes are ``model``'s. ``rechecked``
    counts those rows. Tensors go to ``model``'s device.
    """

    def __init__(self, model, tokenizer, inference: TextInference, removal: str = "pad",
                 max_tokens_per_pass: int = 16384, max_batch: int = 256,
                 fast: FastRows | None = None) -> None:
        if removal not in REMOVALS:
            raise ValueError(f"removal must be one of {REMOVALS}, not {removal!r}")
        self.model, self.inference, self.removal = model, inference, removal
        self.device = model_device(model)
        self.fast = fast
        self.rechecked = 0  # rows run again in float32 after the fast pass
        self.replacement = {"pad": tokenizer.pad_token_id, "mask": tokenizer.mask_token_id,
                            "delete": None}[removal]
        if removal != "delete" and self.replacement is None:
            raise ValueError(f"tokenizer has no {removal} token")
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        # DistilBERT-style models take no token_type_ids.
        self.token_types = "token_type_ids" in getattr(tokenizer, "model_input_names", ())
        length = len(inference.token_ids)
        self.chunk = max(1, min(max_batch, max_tokens_per_pass // max(length, 1)))
        self.forward_passes = 0
        self.rows = 0  # candidate removals run through the model
        self.accepted: dict[tuple[int, ...], TextOutcome] = {}
        # Lead of the original class after each removal (logit minus the best other; < 0 = flipped),
        # from the pass every row gets (the fast copy when there is one), so a stop rule that reads
        # it does not depend on which rows this process happened to re-check.
        self.leads: dict[tuple[int, ...], float] = {}
        self.recheck_seconds = 0.0  # wall clock of the float32 re-checks
        probs = np.asarray(inference.probs, dtype=np.float64)
        others = np.delete(probs, inference.pred)
        # The unmodified input's lead (log-probability ratio = logit difference), the stop rule's scale.
        self.original_lead = float(np.log(max(probs[inference.pred], 1e-300)) - np.log(max(others.max(), 1e-300))) \
            if len(others) else None

    def _inputs(self, cands: Sequence[tuple[int, ...]]) -> dict[str, torch.Tensor]:
        ids = self.inference.token_ids
        n, length = len(cands), len(ids)
        if self.removal != "delete":
            batch = np.tile(ids, (n, 1))
            rows = np.concatenate([np.full(len(c), r) for r, c in enumerate(cands)])
            cols = np.concatenate([np.asarray(c, dtype=np.int64) for c in cands])
            batch[rows, cols] = self.replacement
            mask = np.ones_like(batch)
        else:
            keep = np.ones((n, length), dtype=bool)
            for r, c in enumerate(cands):
                keep[r, list(c)] = False
            counts = keep.sum(axis=1)
            batch = np.full((n, int(counts.max())), self.pad_id, dtype=np.int64)
            mask = np.arange(batch.shape[1])[None, :] < counts[:, None]
            batch[mask] = np.broadcast_to(ids, (n, length))[keep]
            mask = mask.astype(np.int64)
        inputs = {"input_ids": torch.from_numpy(batch.astype(np.int64)),
                  "attention_mask": torch.from_numpy(mask.astype(np.int64))}
        if self.token_types:
            inputs["token_type_ids"] = torch.zeros(batch.shape, dtype=torch.int64)
        return inputs

    def _logits(self, model, cands: Sequence[tuple[int, ...]]) -> torch.Tensor:
        """float32 logits (n, C) on the CPU, in chunked passes of ``model``."""
        device = self.device if model is self.model else torch.device("cpu")
        out = []
        for start in range(0, len(cands), self.chunk):
            inputs = self._inputs(cands[start:start + self.chunk])
            with torch.inference_mode():
                out.append(model(**{k: v.to(device) for k, v in inputs.items()}).logits.float().cpu())
        if not out:
            return torch.zeros((0, len(self.inference.probs)), dtype=torch.float32)
        return torch.cat(out)

    def _checked_logits(self, cands: list[tuple[int, ...]], until_hit: bool = False
                        ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        """Fast logits, float32 ones for every row the fast copy cannot decide.

        Returns ``(logits, fast_logits, known)``: ``known[i]`` is False for rows whose verdict
        was not settled. That happens only with ``until_hit``: the caller (the first-hit
        search) reads verdicts in order and stops at the first hit, so rows after the first
        confirmed change of class are not re-checked (their fast verdict may be unsure).
        Re-checked rows also feed the margin; when it grows, rows of this call decided under
        the old margin are decided again under the new one.
        """
        fast = self._logits(self.fast.model, cands)
        self.forward_passes += -(-len(cands) // self.chunk)
        logits = fast.clone()
        done = np.zeros(len(cands), dtype=bool)
        known = np.ones(len(cands), dtype=bool)
        pred = self.inference.pred
        fast_changed = (fast.argmax(dim=1) != pred).numpy()

        def first_confirmed() -> int:  # the first row whose change of class float32 confirmed
            hits = np.flatnonzero(done & (logits.argmax(dim=1) != pred).numpy())
            return int(hits[0]) if len(hits) else len(cands)

        while True:
            redo = np.flatnonzero(self.fast.needs_recheck(fast, pred).numpy() & ~done)
            if until_hit:
                # In order, up to (and with) the next row the fast copy sees flipped; rows after a
                # confirmed flip are never re-checked.
                redo = redo[redo < first_confirmed()]
                flips = redo[fast_changed[redo]]
                if len(flips):
                    redo = redo[redo <= flips[0]]
            if not len(redo):
                break
            index = torch.from_numpy(redo)
            t0 = time.perf_counter()
            exact = self._logits(self.model, [cands[i] for i in redo])
            self.recheck_seconds += time.perf_counter() - t0
            self.fast.observe(fast[index], exact)
            logits[index] = exact
            done[redo] = True
            # Not added to forward_passes: how many rows need the float32 re-check depends on
            # the margin this process has calibrated so far, and stored counts must not
            # depend on process history (a resumed run must equal an uninterrupted one).
            self.rechecked += len(redo)
        if until_hit:
            after = first_confirmed() + 1
            known[after:] = ~(self.fast.needs_recheck(fast, pred).numpy() & ~done)[after:]
        return logits, fast, known

    def probabilities(self, candidates: Sequence[tuple[int, ...]]) -> np.ndarray:
        """Class probabilities (n, C) after removing each candidate, in chunked passes.

        Public so that metrics needing probabilities (ERASER) remove tokens exactly as the
        tester does; it does not touch ``forward_passes`` or ``accepted``.
        """
        cands = [tuple(int(p) for p in c) for c in candidates]
        self.model.eval()
        return torch.softmax(self._logits(self.model, cands), dim=-1).numpy()

    def __call__(self, candidates: Sequence[tuple[int, ...]], until_hit: bool = False) -> list[bool | None]:
        """Per candidate: does removing it change the predicted class?

        ``until_hit`` (the first-hit search): verdicts after the first accepted candidate
        may come back as None (not settled in float32, and not needed by a search that
        stops at that candidate); every returned bool is float32's verdict.
        """
        cands = [tuple(int(p) for p in c) for c in candidates]
        check_positions(cands, len(self.inference.token_ids), self.inference.target)
        self.rows += len(cands)
        if self.fast is None:
            logits = self._logits(self.model, cands)
            self.forward_passes += -(-len(cands) // self.chunk)
            fast, known = logits, np.ones(len(cands), dtype=bool)
        else:
            logits, fast, known = self._checked_logits(cands, until_hit=until_hit)
        self.leads.update(zip(cands, _leads(fast, self.inference.pred).tolist()))
        probs = torch.softmax(logits, dim=-1).numpy()
        preds = probs.argmax(axis=1)
        changed: list[bool | None] = []
        for cand, pred, p, ok in zip(cands, preds, probs, known):
            if not ok:
                changed.append(None)
                continue
            hit = int(pred) != self.inference.pred
            if hit:
                self.accepted[cand] = TextOutcome(int(pred), float(p[pred]))
            changed.append(hit)
        return changed


def _leads(logits: torch.Tensor, original: int) -> np.ndarray:
    """Per row: the original class's logit minus the best other class's (< 0: the class changed)."""
    if logits.shape[0] == 0:
        return np.zeros(0)
    values = logits.float().clone()
    own = values[:, original].clone()
    values[:, original] = -torch.inf
    return (own - values.max(dim=1).values).numpy().astype(np.float64)
