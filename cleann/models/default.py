"""The embedded default models: trained once into the cache, reused afterwards.

Why: no fine-tuned sentiment BERT and no BERT4Rec checkpoint can be downloaded here, so
cleann trains its defaults from pinned artifacts (MiniLM weights, review corpora,
ml-100k). Training writes to a temporary sibling folder that is renamed into place only
when complete, so an interrupted run never leaves a half-written "cached" model.

Each model card records the ``schedule_version`` of the training recipe that made it
(``finetune.SCHEDULE_VERSION``, ``bert4rec_train.SCHEDULE_VERSION``). A cached default
made by another version (or by none: the wall-clock-budget recipe before version 2) is
retrained once and replaced, so an upgrade never keeps serving an outdated default.
"""
from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from cleann.config import cleann_home

SENTIMENT_NAME = "sentiment-minilm"
BERT4REC_NAME = "bert4rec-ml-100k"


def models_dir() -> Path:
    return cleann_home() / "models"


def default_sentiment_dir() -> Path:
    return models_dir() / SENTIMENT_NAME


def default_bert4rec_dir(corpus: str = "ml-100k") -> Path:
    return models_dir() / f"bert4rec-{corpus}"


def is_complete(folder: Path) -> bool:
    """A finished model folder: weights plus a card whose sha256 matches them."""
    from cleann.sources.artifacts import sha256_file

    card, weights = folder / "model_card.json", folder / "model.safetensors"
    if not (card.is_file() and weights.is_file()):
        return False
    try:
        return json.loads(card.read_text()).get("weights_sha256") == sha256_file(weights)
    except (OSError, ValueError):
        return False


def schedule_version(folder: Path) -> int | None:
    """The training-recipe version recorded in ``folder``'s model card (None if absent)."""
    try:
        return json.loads((folder / "model_card.json").read_text()).get("schedule_version")
    except (OSError, ValueError):
        return None


def _usable(target: Path, force: bool, version: int | None, log: Callable[[str], None]) -> bool:
    if force or not is_complete(target):
        return False
    found = schedule_version(target)
    if version is None or found == version:
        return True
    log(f"{target} was trained by schedule version {found}; retraining it with version {version}")
    return False


@contextmanager
def _build_lock(target: Path, log: Callable[[str], None]) -> Iterator[None]:
    """One builder per model folder across processes; the others wait, then reuse its model.

    Why: two processes asking for the default at once (a demo and a benchmark) used to
    delete each other's half-trained folder.
    """
    import fcntl

    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            log(f"another process is training {target}; waiting for it")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove_stale_partials(target: Path) -> None:
    """Remove ``<name>.partial-<pid>`` folders of processes that no longer run."""
    for folder in target.parent.glob(target.name + ".partial-*"):
        pid = folder.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


def _build(target: Path, train: Callable[[Path], object], force: bool,
           version: int | None = None, log: Callable[[str], None] = print) -> Path:
    if _usable(target, force, version, log):
        return target
    with _build_lock(target, log):
        if not force and _usable(target, False, version, lambda s: None):
            return target  # built by the process we waited for
        _remove_stale_partials(target)
        tmp = target.with_name(f"{target.name}.partial-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            train(tmp)
            if not is_complete(tmp):
                raise RuntimeError(f"training did not produce a complete model in {tmp}")
            old = target.with_name(f"{target.name}.old-{os.getpid()}")
            if target.exists():
                target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def ensure_default_sentiment(force: bool = False, log: Callable[[str], None] = print,
                             cfg=None, threads_now: Callable[[], int] | None = None) -> Path:
    """Path of the fine-tuned MiniLM sentiment model, training it first if needed."""
    def train(out: Path) -> None:
        from cleann.models.finetune import CORPORA, finetune_sentiment
        from cleann.sources.artifacts import minilm_dir
        from cleann.sources.text import load_offline

        frames = {name: load_offline(name) for name in CORPORA}
        finetune_sentiment(out, minilm_dir(), frames, cfg, log=log, threads_now=threads_now)

    from cleann.models.finetune import SCHEDULE_VERSION

    return _build(default_sentiment_dir(), train, force, SCHEDULE_VERSION, log)


def ensure_default_bert4rec(force: bool = False, log: Callable[[str], None] = print,
                            cfg=None, interactions=None, corpus: str = "ml-100k") -> Path:
    """Path of the trained BERT4Rec (offline ml-100k unless ``interactions`` are given)."""
    def train(out: Path) -> None:
        from cleann.models.bert4rec_train import train_and_save

        frame = interactions
        if frame is None:
            from cleann.sources.movielens import load_offline_ml100k

            frame = load_offline_ml100k()[0]
        train_and_save(out, frame, corpus, cfg, log=log)

    from cleann.models.bert4rec_train import SCHEDULE_VERSION

    return _build(default_bert4rec_dir(corpus), train, force, SCHEDULE_VERSION, log)


def _needs_training(target: Path, version: int) -> bool:
    return not _usable(target, False, version, lambda s: None)


def _die_with_parent() -> None:
    """Child-process initializer: the kernel kills it when its parent dies (no orphans)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass


def _train_bert4rec_in_child() -> str:
    """BERT4Rec, then the engine's compiled kernels (minutes of one core when cold)."""
    path = ensure_default_bert4rec(log=lambda s: print(f"[bert4rec] {s}", flush=True))
    from cleann.causal.icd import warm_up_compiled

    warm_up_compiled()
    return str(path)


def ensure_default_models(log: Callable[[str], None] = print) -> tuple[Path, Path]:
    """Both default models (sentiment, BERT4Rec), training the missing ones.

    Why: a first run trains both. When both are missing, BERT4Rec (a small model that
    gains nothing from a second core) trains in a child process on one core while
    sentiment trains here on the other; the child then compiles the engine's kernels
    (``warm_up_compiled``), and sentiment takes every core when the child is done: the
    first run waits for the longer job instead of the sum. Each training keeps its fixed,
    seeded schedule; the child dies with this process (no orphan).
    """
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing

    from cleann.models.bert4rec_train import SCHEDULE_VERSION as REC_VERSION
    from cleann.models.finetune import SCHEDULE_VERSION as SENT_VERSION

    both = (_needs_training(default_sentiment_dir(), SENT_VERSION)
            and _needs_training(default_bert4rec_dir(), REC_VERSION)
            and (os.cpu_count() or 1) > 1)
    if not both:
        return ensure_default_sentiment(log=log), ensure_default_bert4rec(log=log)
    log("training both default models at once: BERT4Rec in a child process on one core, "
        "sentiment here")
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx, initializer=_die_with_parent) as pool:
        rec = pool.submit(_train_bert4rec_in_child)
        cores = min(2, os.cpu_count() or 1)
        sentiment = ensure_default_sentiment(
            log=log, threads_now=lambda: cores if rec.done() else max(1, cores - 1))
        return sentiment, Path(rec.result())
