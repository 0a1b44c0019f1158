"""The cache logic of the embedded defaults: train once, reuse, --force, never half-written."""
import json

import pytest

from cleann.models import default
from cleann.sources.artifacts import sha256_file


def _fake_train(calls, fail=False):
    def train(out):
        calls.append(out)
        out.mkdir(parents=True)
        (out / "model.safetensors").write_bytes(f"weights {len(calls)}".encode())
        if fail:
            raise RuntimeError("interrupted")
        card = {"weights_sha256": sha256_file(out / "model.safetensors")}
        (out / "model_card.json").write_text(json.dumps(card))
    return train


def test_build_trains_once_then_reuses_and_force_retrains(tmp_path):
    target, calls = tmp_path / "models" / "m", []
    target.parent.mkdir()
    assert default._build(target, _fake_train(calls), force=False) == target
    assert default._build(target, _fake_train(calls), force=False) == target
    assert len(calls) == 1 and default.is_complete(target)
    default._build(target, _fake_train(calls), force=True)
    assert len(calls) == 2 and (target / "model.safetensors").read_bytes() == b"weights 2"
    assert not any(".partial" in p.name or ".old" in p.name for p in target.parent.iterdir())


def test_interrupted_training_keeps_the_old_model(tmp_path):
    target, calls = tmp_path / "m", []
    default._build(target, _fake_train(calls), force=False)
    with pytest.raises(RuntimeError):
        default._build(target, _fake_train(calls, fail=True), force=True)
    assert default.is_complete(target)
    assert (target / "model.safetensors").read_bytes() == b"weights 1"


def test_tampered_weights_are_not_complete(tmp_path):
    target, calls = tmp_path / "m", []
    default._build(target, _fake_train(calls), force=False)
    (target / "model.safetensors").write_bytes(b"other")
    assert not default.is_complete(target)


def test_eval_without_trained_default_is_a_clear_error(tmp_path, monkeypatch):
    from cleann.errors import BadInputError
    from cleann.models.evaluation import eval_bert4rec, eval_sentiment

    monkeypatch.setenv("CLEANN_HOME", str(tmp_path))
    with pytest.raises(BadInputError, match="cleann train sentiment"):
        eval_sentiment()
    with pytest.raises(BadInputError, match="cleann train bert4rec"):
        eval_bert4rec()


def test_a_cached_model_of_another_schedule_version_is_replaced(tmp_path):
    target, calls = tmp_path / "m", []
    default._build(target, _fake_train(calls), force=False)  # card without a version (old recipe)
    messages = []
    default._build(target, _fake_train(calls), force=False, version=2, log=messages.append)
    assert len(calls) == 2 and "schedule version None" in messages[0]
    card = json.loads((target / "model_card.json").read_text())
    card["schedule_version"] = 2
    (target / "model_card.json").write_text(json.dumps(card))
    default._build(target, _fake_train(calls), force=False, version=2)
    assert len(calls) == 2 and default.schedule_version(target) == 2


def test_a_second_builder_waits_for_the_first_and_reuses_its_model(tmp_path):
    import threading

    target, calls, messages = tmp_path / "m", [], []
    started, release = threading.Event(), threading.Event()
    slow = _fake_train(calls)

    def first_train(out):
        started.set()
        release.wait(10)
        slow(out)

    first = threading.Thread(target=default._build, args=(target, first_train, False))
    first.start()
    started.wait(10)
    second = threading.Thread(target=default._build,
                              args=(target, _fake_train(calls), False, None, messages.append))
    second.start()
    second.join(0.5)
    assert second.is_alive() and "waiting" in messages[0]  # blocked, its partial folder untouched
    release.set()
    first.join(10)
    second.join(10)
    assert len(calls) == 1 and default.is_complete(target)
