"""Run identity: model fingerprint, code version and the deterministic run id.

Why: re-running the same parameters on the same model and corpus must resume the same
run, so the id is a hash of exactly those inputs; a retrained model gets a new run.
"""
from __future__ import annotations

import hashlib
import subprocess
from functools import lru_cache
from pathlib import Path

from cleann.errors import ArtifactError
from cleann.pipeline.params import ExplainParams
from cleann.sources.artifacts import sha256_file

WEIGHT_SUFFIXES = (".safetensors", ".json", ".txt")


@lru_cache(maxsize=32)
def _cached_sha(path: str, mtime_ns: int, size: int) -> str:
    return sha256_file(Path(path))


def model_sha256(model_path: str | Path) -> str:
    """sha256 of a checkpoint: the file itself, or for a folder a hash over its weight,
    config and vocabulary files (name + content hash, sorted)."""
    path = Path(model_path)
    if path.is_file():
        st = path.stat()
        return _cached_sha(str(path.resolve()), st.st_mtime_ns, st.st_size)
    if not path.is_dir():
        raise ArtifactError(f"model {model_path}: no such checkpoint file or folder")
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if not any(p.suffix == ".safetensors" for p in files):
        raise ArtifactError(f"model {model_path}: folder has no .safetensors weights")
    digest = hashlib.sha256()
    for p in files:
        st = p.stat()
        digest.update(f"{p.name}\0{_cached_sha(str(p.resolve()), st.st_mtime_ns, st.st_size)}\n".encode())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """``git describe`` of the source tree when it is a checkout, else the package version."""
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"], cwd=root,
            capture_output=True, text=True, timeout=10, check=True,
        )
        if out.stdout.strip():
            return f"git:{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"cleann {version('cleann')}"
    except PackageNotFoundError:
        return "cleann unknown"


def run_id_for(params: ExplainParams, model_sha: str) -> str:
    """16 hex digits of sha256(params JSON, model sha256); the corpus is inside params."""
    payload = f"{params.to_json()}\n{model_sha}".encode()
    return hashlib.sha256(payload).hexdigest()[:16]
