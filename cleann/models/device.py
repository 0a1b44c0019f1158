"""Where the models run: ``--device auto|cpu|cuda``.

Why one resolver: inference, the tester and the gradient baselines must agree on the
device (tensors built by one are fed to the model of another), and a user asking for a
GPU that is not there must get one clear line (exit code 2), not a CUDA traceback from
deep inside a forward pass. CPU is the default and what the tests run.
"""
from __future__ import annotations

import torch

from cleann.errors import BadInputError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(spec: str | torch.device | None = "cpu") -> torch.device:
    """``"cpu"`` / ``"cuda"`` / ``"cuda:N"`` / ``"auto"`` (cuda when available) -> a torch device."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    name = str(spec or "cpu").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise BadInputError(f"--device {name}: no CUDA GPU is available here (torch "
                                f"{torch.__version__}); use --device cpu or --device auto")
        try:
            device = torch.device(name)
        except RuntimeError:
            raise BadInputError(f"--device {name!r}: use auto, cpu, cuda or cuda:N") from None
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise BadInputError(f"--device {name}: only {torch.cuda.device_count()} CUDA "
                                f"device(s) here")
        return device
    raise BadInputError(f"--device {name!r}: use auto, cpu, cuda or cuda:N")


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of ``model``'s parameters (CPU for a model without parameters)."""
    for p in model.parameters():
        return p.device
    return torch.device("cpu")
