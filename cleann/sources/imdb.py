"""IMDB Large Movie Review Dataset: the Hugging Face dataset or a local `aclImdb/` folder.

Why: these are the two ways users actually hold IMDB. Both keep the upstream train/test
split (the benchmark's own), and ids come from upstream identity (split + row, or the
file's relative path) so re-ingesting the same data yields the same ids.
"""
from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from cleann.errors import BadInputError
from cleann.sources.artifacts import RegistryUnreachableError
from cleann.sources.text import build_documents

HF_IMDB = "stanfordnlp/imdb"
IMDB_SPLITS = ("train", "test")  # `unsupervised` has no labels


def load_hf_imdb(name_or_path: str | Path = HF_IMDB, corpus: str = "imdb") -> pd.DataFrame:
    """IMDB through `datasets`: a hub id, a folder from `save_to_disk`, or Parquet files.

    Needs `text` and `label` columns in `train` and/or `test` splits.
    """
    dataset_dict, version = _open_hf(name_or_path)
    parts = []
    for split in IMDB_SPLITS:
        if split not in dataset_dict:
            continue
        part = dataset_dict[split]
        missing = {"text", "label"} - set(part.column_names)
        if missing:
            raise BadInputError(f"{name_or_path} [{split}]: missing column(s) {sorted(missing)};"
                                f" found {part.column_names}")
        frame = part.select_columns(["text", "label"]).to_pandas()
        frame["native_id"] = split + "/" + pd.Series(range(len(frame))).astype(str)
        frame["split"] = split
        parts.append(frame)
    if not parts:
        raise BadInputError(f"{name_or_path}: no 'train' or 'test' split "
                            f"(found {list(dataset_dict)})")
    raw = pd.concat(parts, ignore_index=True)
    raw = raw[raw["label"] >= 0]  # -1 marks unlabelled rows
    frame = build_documents(corpus, raw["native_id"], raw["text"], raw["label"],
                            f"hf:{name_or_path}", where=str(name_or_path), splits=raw["split"])
    frame.attrs["source"] = {"kind": "hf", "location": str(name_or_path), "version": version,
                             "package_sha256": None, "skipped": frame.attrs.get("skipped", {}),
                             "examples": frame.attrs.get("examples", [])}
    return frame


def _open_hf(name_or_path: str | Path):
    """(DatasetDict-like mapping, version string) for a hub id, saved folder or Parquet."""
    import datasets

    path = Path(name_or_path)
    try:
        if path.is_dir() and ((path / "dataset_dict.json").is_file()
                              or (path / "state.json").is_file()):
            loaded = datasets.load_from_disk(str(path))
        elif path.is_dir() or path.suffix == ".parquet":
            files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
            if not files:
                raise BadInputError(f"{path}: no saved dataset and no Parquet files here")
            by_split = {s: [str(f) for f in files if s in f.name] for s in IMDB_SPLITS}
            data_files = ({s: f for s, f in by_split.items() if f}
                          or {"train": [str(f) for f in files]})
            loaded = datasets.load_dataset("parquet", data_files=data_files)
        elif path.exists():
            raise BadInputError(f"{path}: not a saved dataset folder or Parquet file")
        else:
            loaded = datasets.load_dataset(str(name_or_path))
    except BadInputError:
        raise
    except FileNotFoundError as exc:
        raise BadInputError(f"{name_or_path}: dataset not found ({exc})") from None
    except ConnectionError as exc:
        if "OfflineMode" in str(exc):  # a setting, not a flaky network: do not retry
            raise BadInputError(f"{name_or_path}: HF_HUB_OFFLINE / HF_DATASETS_OFFLINE is set; "
                                "pass a local dataset with --path instead") from None
        raise RegistryUnreachableError(
            f"{name_or_path}: could not reach the dataset hub ({exc})") from None
    except OSError as exc:
        raise BadInputError(f"{name_or_path}: could not load the dataset ({exc})") from None
    if isinstance(loaded, datasets.Dataset):
        loaded = datasets.DatasetDict({"train": loaded})
    version = ",".join(f"{s}:{loaded[s]._fingerprint}" for s in loaded)
    return loaded, version


def check_aclimdb_folder(root: Path) -> Path:
    """The folder holding train|test/pos|neg (``root`` or ``root/aclImdb``), or a
    BadInputError saying what ``root`` is instead (a zip, a tar, a plain file, nothing)."""
    if not root.exists():
        raise BadInputError(f"{root}: folder not found")
    if not root.is_dir():
        if zipfile.is_zipfile(root) or tarfile.is_tarfile(root):
            raise BadInputError(f"{root}: is an archive; extract it and pass the aclImdb "
                                "folder with --path")
        raise BadInputError(f"{root}: not a folder (expected aclImdb/ with "
                            "train|test/pos|neg/*.txt)")
    if not (root / "train").is_dir() and (root / "aclImdb").is_dir():
        root = root / "aclImdb"
    if not any((root / s / p).is_dir() for s in IMDB_SPLITS for p in ("pos", "neg")):
        raise BadInputError(f"{root}: no train|test/pos|neg folders (expected the aclImdb "
                            "layout)")
    return root


def load_aclimdb(folder: str | Path, corpus: str = "aclimdb") -> pd.DataFrame:
    """A local `aclImdb/` folder: `{train,test}/{pos,neg}/*.txt`, one review per file.

    Files that are not valid UTF-8 are skipped and counted (`attrs["skipped"]`), so one
    damaged file does not stop a 50,000-file ingest.
    """
    root = check_aclimdb_folder(Path(folder))
    if not (root / "train").is_dir() and (root / "aclImdb").is_dir():
        root = root / "aclImdb"
    files = [(path, label, split)
             for split in IMDB_SPLITS for polarity, label in (("pos", 1), ("neg", 0))
             for path in sorted((root / split / polarity).glob("*.txt"))]
    records, undecodable = [], []
    for path, label, split in tqdm(files, desc=f"reading {root.name}", unit="file",
                                   disable=None, file=sys.stderr):
        native_id = path.relative_to(root).as_posix()
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            undecodable.append(native_id)
            continue
        records.append((native_id, text, label, split))
    if not records:
        raise BadInputError(f"{root}: no reviews found (expected train|test/pos|neg/*.txt)")
    raw = pd.DataFrame.from_records(records, columns=["native_id", "text", "label", "split"])
    frame = build_documents(corpus, raw["native_id"], raw["text"], raw["label"],
                            f"aclimdb:{root.name}", where=str(root), splits=raw["split"])
    skipped = dict(frame.attrs.get("skipped", {}))
    if undecodable:
        skipped["undecodable file"] = len(undecodable)
    frame.attrs["skipped"] = skipped
    frame.attrs["source"] = {"kind": "aclimdb", "location": str(root.resolve()), "version": None,
                             "package_sha256": None, "skipped": skipped,
                             "examples": (frame.attrs.get("examples", []) + undecodable)[:5]}
    return frame
