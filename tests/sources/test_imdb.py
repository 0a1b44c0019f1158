"""IMDB loaders: a dataset saved by `datasets` itself (no hub), Parquet, aclImdb folder."""
from __future__ import annotations

from pathlib import Path

import datasets
import pandas as pd
import pytest

from cleann.errors import BadInputError
from cleann.sources.imdb import load_aclimdb, load_hf_imdb

TRAIN = {"text": ["A gem.<br /><br />Loved it.", "Awful &amp; boring.", "Fine."],
         "label": [1, 0, 1]}
TEST = {"text": ["Bad.", "Good."], "label": [0, 1]}


@pytest.fixture
def saved_imdb(tmp_path: Path) -> Path:
    """Same structure as stanfordnlp/imdb: train, test, unsupervised (label -1)."""
    path = tmp_path / "imdb_saved"
    datasets.DatasetDict({
        "train": datasets.Dataset.from_dict(TRAIN),
        "test": datasets.Dataset.from_dict(TEST),
        "unsupervised": datasets.Dataset.from_dict({"text": ["no label"], "label": [-1]}),
    }).save_to_disk(str(path))
    return path


def test_hf_saved_dataset_keeps_upstream_splits_and_cleans(saved_imdb):
    frame = load_hf_imdb(saved_imdb)
    assert frame.groupby("split").size().to_dict() == {"test": 2, "train": 3}
    assert frame["text"].tolist()[:2] == ["A gem. Loved it.", "Awful & boring."]
    assert frame["label"].tolist() == [1, 0, 1, 0, 1]
    assert frame["corpus"].unique().tolist() == ["imdb"]
    assert frame.attrs["source"]["kind"] == "hf" and frame.attrs["source"]["version"]


def test_hf_ids_stable_between_loads(saved_imdb):
    assert load_hf_imdb(saved_imdb)["doc_id"].tolist() == load_hf_imdb(saved_imdb)["doc_id"].tolist()


def test_hf_parquet_files_via_load_dataset(tmp_path):
    folder = tmp_path / "pq"
    folder.mkdir()
    pd.DataFrame(TRAIN).to_parquet(folder / "train-00000.parquet")
    pd.DataFrame(TEST).to_parquet(folder / "test-00000.parquet")
    frame = load_hf_imdb(folder, corpus="imdb_pq")
    assert frame.groupby("split").size().to_dict() == {"test": 2, "train": 3}
    assert (frame["corpus"] == "imdb_pq").all()


def test_hf_missing_columns(tmp_path):
    path = tmp_path / "wrong"
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"review": ["x"], "y": [1]})}
                         ).save_to_disk(str(path))
    with pytest.raises(BadInputError, match=r"missing column\(s\) \['label', 'text'\]"):
        load_hf_imdb(path)


def write_aclimdb(root: Path) -> Path:
    for split, polarity, name, body in [
        ("train", "pos", "0_9.txt", "Superb.<br />Really."),
        ("train", "neg", "1_2.txt", "Terrible."),
        ("test", "pos", "2_8.txt", "Lovely."),
        ("test", "neg", "3_1.txt", "Dreadful."),
    ]:
        folder = root / "aclImdb" / split / polarity
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(body, encoding="utf-8")
    return root


def test_aclimdb_folder(tmp_path):
    frame = load_aclimdb(write_aclimdb(tmp_path))  # parent of aclImdb/ also accepted
    assert frame.groupby(["split", "label"]).size().to_dict() == {
        ("test", 0): 1, ("test", 1): 1, ("train", 0): 1, ("train", 1): 1}
    assert "Superb. Really." in frame["text"].tolist()


def test_aclimdb_undecodable_file_skipped_and_reported(tmp_path):
    root = write_aclimdb(tmp_path)
    (root / "aclImdb" / "train" / "pos" / "9_10.txt").write_bytes(b"caf\xe9 \xff")
    frame = load_aclimdb(root / "aclImdb")
    assert len(frame) == 4
    assert frame.attrs["skipped"] == {"undecodable file": 1}
    assert frame.attrs["source"]["examples"] == ["train/pos/9_10.txt"]


def test_aclimdb_missing_or_empty_folder(tmp_path):
    with pytest.raises(BadInputError, match="folder not found"):
        load_aclimdb(tmp_path / "nope")
    with pytest.raises(BadInputError, match="no train|test/pos|neg folders"):
        load_aclimdb(tmp_path)
    (tmp_path / "train" / "pos").mkdir(parents=True)
    with pytest.raises(BadInputError, match="no reviews found"):
        load_aclimdb(tmp_path)


def test_aclimdb_archive_or_file_is_named_as_such(tmp_path):
    import zipfile

    archive = tmp_path / "aclImdb.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("aclImdb/train/pos/1_9.txt", "good")
    with pytest.raises(BadInputError, match="is an archive; extract it"):
        load_aclimdb(archive)
    plain = tmp_path / "reviews.txt"
    plain.write_text("good")
    with pytest.raises(BadInputError, match="not a folder"):
        load_aclimdb(plain)


def test_hub_id_in_offline_mode_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(BadInputError, match="pass a local dataset with --path"):
        load_hf_imdb("stanfordnlp/imdb")
