"""``--device auto|cpu|cuda``: resolution, the clean error without a GPU, and the plumbing
from the run's execution parameters to the back-ends, testers and baseline inputs (CPU)."""
from __future__ import annotations

import pytest
import torch

from cleann.errors import BadInputError
from cleann.models.device import model_device, resolve_device


def _no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_resolve_cpu_and_auto():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


def test_auto_is_cpu_without_gpu(monkeypatch):
    _no_gpu(monkeypatch)
    assert resolve_device("auto") == torch.device("cpu")


@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "CUDA"])
def test_cuda_without_gpu_is_one_line_user_error(monkeypatch, spec):
    _no_gpu(monkeypatch)
    with pytest.raises(BadInputError) as err:
        resolve_device(spec)
    msg = str(err.value)
    assert "\n" not in msg and "no CUDA GPU" in msg and "--device" in msg


def test_unknown_device_is_user_error():
    with pytest.raises(BadInputError, match="use auto, cpu, cuda"):
        resolve_device("tpu")


def test_exec_params_device_default_and_not_in_run_id():
    from dataclasses import fields

    from cleann.pipeline.params import ExecParams, ExplainParams

    assert "device" not in {f.name for f in fields(ExplainParams)}  # the run id hashes only these
    assert ExecParams().device == "cpu"
    assert ExecParams(device="auto").device == "auto"
    with pytest.raises(BadInputError):
        ExecParams(device="gpu0")


def test_backends_on_explicit_cpu(lexicon_dir, tmp_path):
    from cleann.models.tiny import make_tiny_bert4rec
    from cleann.pipeline.batch import get_backend

    text = get_backend("imdb", str(lexicon_dir), "cpu")
    assert text.device == torch.device("cpu") and model_device(text.model).type == "cpu"
    view = text.infer(["good movie but bad acting and great plot"], 1, 24)[0]
    tester = text.tester(view, "pad")
    assert tester.device.type == "cpu"
    assert list(tester([(1,), (4,)])) == [True, False]  # known answers of the lexicon model
    if not torch.cuda.is_available():  # auto resolves to the same (cached) CPU back-end
        assert get_backend("imdb", str(lexicon_dir), "auto") is text

    rec = get_backend("movielens", str(make_tiny_bert4rec(tmp_path / "rec", n_items=30, seed=2)), "cpu")
    rview = rec.infer([[1, 2, 3, 4]], 1, 200)[0]
    assert len(rec.tester(rview, "pad")([(0,), (1, 2)])) == 2


def test_backend_cuda_without_gpu_fails_before_loading(monkeypatch, lexicon_dir):
    from cleann.pipeline.batch import get_backend

    _no_gpu(monkeypatch)
    with pytest.raises(BadInputError, match="no CUDA GPU"):
        get_backend("imdb", str(lexicon_dir), "cuda")


def test_baseline_inputs_follow_the_model_device(lexicon):
    from cleann.baselines.inputs import text_input
    from cleann.models.sentiment import infer

    model, tok = lexicon
    inf = infer(model, tok, ["good movie"])[0]
    mi = text_input(model, tok, inf, "pad")
    assert mi.input_ids.device == model_device(model) == mi.reference_ids.device
    assert mi.forward(mi.input_ids).shape == (1, 2)


def test_cli_explain_cuda_without_gpu_exits_2(monkeypatch, tmp_path, capsys):
    from cleann.cli import main

    _no_gpu(monkeypatch)
    code = main(["explain", "imdb", "--device", "cuda", "--limit", "1", "--no-prefect",
                 "--db", str(tmp_path / "x.duckdb")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and "no CUDA GPU" in err and "Traceback" not in err


@pytest.mark.parametrize("job", ["explain", "evaluate"])
def test_work_steps_hand_the_plans_device_to_the_backend(monkeypatch, tmp_path, job):
    """--device travels in the plan's options (not the run id) to the batch step."""
    from cleann.metrics.settings import EvalSettings
    from cleann.pipeline.job import JobPlan
    from cleann.pipeline.params import ExplainParams

    seen = {}

    def fake(*args, **kwargs):
        seen["device"] = kwargs.get("device")
        return "manifest"

    if job == "explain":
        from cleann.pipeline import batch, explain

        monkeypatch.setattr(batch, "process_batch", fake)
        work = explain.work
    else:
        from cleann.metrics import batch, evaluate

        monkeypatch.setattr(batch, "evaluate_batch", fake)
        work = evaluate.work
    plan = JobPlan(job, "r1", str(tmp_path / "x.duckdb"), str(tmp_path), "m", ExplainParams().to_json(),
                   ("b1",), 1, settings_json=EvalSettings(explainers=("ig",)).to_json(), options={"device": "auto"})
    assert work(plan, "b1") == "manifest" and seen["device"] == "auto"


def test_evaluate_plan_records_the_device(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from cleann.metrics import evaluate, plan as plan_mod
    from cleann.metrics.settings import EvalSettings

    monkeypatch.setattr(plan_mod, "plan_evaluation", lambda *a, **k: SimpleNamespace(
        run_id="r1", db_path="d", staging_root=str(tmp_path), model_path="m", params_json="{}",
        batch_ids=["b1"], n_samples=1, settings_json=EvalSettings(explainers=("ig",)).to_json()))
    assert evaluate.plan("d", "r1", EvalSettings(explainers=("ig",)), device="cpu").options["device"] == "cpu"
    assert evaluate.plan("d", "r1", EvalSettings(explainers=("ig",))).options["device"] == "cpu"  # the default
