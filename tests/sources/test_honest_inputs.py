"""Issue 12, items 6 and 8: inputs are honoured or refused, never silently reinterpreted,
and messages say what is actually wrong."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest

from cleann.errors import BadInputError
from cleann.sources.catalog import check_source, load_documents, plan_sources
from cleann.sources.movielens import load_ml1m, load_ml100k
from cleann.sources.text import build_documents, load_table

FLAGS = "|".join(["0"] * 18 + ["1"])


def test_csv_split_column_is_honoured(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("text,label,split\na,1,test\nb,0,TEST\nc,1,train\nd,0,test\n")
    frame = load_table(path)
    assert frame.set_index("text")["split"].to_dict() == {"a": "test", "b": "test", "c": "train",
                                                          "d": "test"}


def test_named_split_column_and_explicit_option_agree(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("text,label,fold\na,1,test\nb,0,train\n")
    (spec,) = plan_sources("imdb", "csv", str(path), split_column="fold")
    assert load_documents(spec)["split"].tolist() == ["test", "train"]


def test_declared_source_kind_is_honoured_not_the_suffix(tmp_path):
    as_csv = tmp_path / "data.parquet"  # CSV content behind a .parquet suffix
    as_csv.write_text("text,label\ngood,1\n")
    (spec,) = plan_sources("imdb", "csv", str(as_csv))
    check_source(spec)
    assert load_documents(spec)["text"].tolist() == ["good"]
    (spec,) = plan_sources("imdb", "parquet", str(as_csv))
    with pytest.raises(BadInputError, match="not a Parquet file"):
        check_source(spec)
    with pytest.raises(BadInputError, match="not a Parquet file"):
        load_documents(spec)
    real = tmp_path / "real.csv"  # Parquet content behind a .csv suffix
    pd.DataFrame({"text": ["fine"], "label": [1]}).to_parquet(real)
    (spec,) = plan_sources("imdb", "parquet", str(real))
    assert load_documents(spec)["text"].tolist() == ["fine"]
    (spec,) = plan_sources("imdb", "csv", str(real))
    with pytest.raises(BadInputError, match="is a Parquet file"):
        load_documents(spec)


def test_encoding_option(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\ncafé crème,1\n".encode("latin-1"))
    (spec,) = plan_sources("imdb", "csv", str(path))
    with pytest.raises(BadInputError, match="--encoding"):
        check_source(spec)
    (spec,) = plan_sources("imdb", "csv", str(path), encoding="latin-1")
    check_source(spec)
    assert load_documents(spec)["text"].tolist() == ["café crème"]
    with pytest.raises(BadInputError, match="unknown encoding"):
        plan_sources("imdb", "csv", str(path), encoding="no-such-codec")


def test_id_column_option_gives_stable_ids(tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("rid,text,label\nr1,good,1\nr2,bad,0\n")
    second.write_text("rid,text,label\nr2,bad (edited),0\nr1,good,1\n")
    (a,) = plan_sources("imdb", "csv", str(first), "c", id_column="rid")
    (b,) = plan_sources("imdb", "csv", str(second), "c", id_column="rid")
    ids_a = load_documents(a).set_index("text")["doc_id"]
    ids_b = load_documents(b).set_index("text")["doc_id"]
    assert ids_a["good"] == ids_b["good"] and ids_a["bad"] == ids_b["bad (edited)"]


def test_options_for_other_sources_are_refused_not_ignored():
    with pytest.raises(BadInputError, match="only for --source csv or parquet"):
        plan_sources("imdb", "aclimdb", "/x", id_column="id")
    with pytest.raises(BadInputError, match="only for --source csv"):
        plan_sources("imdb", "parquet", "/x.parquet", encoding="latin-1")
    with pytest.raises(BadInputError, match="not used with --source offline"):
        plan_sources("imdb", "offline", "/x")


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"text": [0.5, 1.5], "label": [1, 0]}), "holds double values, not texts"),
    (pd.DataFrame({"text": [["a"], ["b"]], "label": [1, 0]}), "holds list"),
    (pd.DataFrame({"text": [1, 2], "label": [1, 0]}), "holds int64 values"),
])
def test_parquet_non_text_texts_are_refused(tmp_path, frame, message):
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    (spec,) = plan_sources("imdb", "parquet", str(path))
    with pytest.raises(BadInputError, match=message):
        check_source(spec)
    with pytest.raises(BadInputError, match="not texts|not a text"):
        load_documents(spec)


def test_parquet_binary_texts_are_refused(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"text": ["fine", b"bytes"], "label": [1, 0]}).to_parquet(path)  # -> binary
    (spec,) = plan_sources("imdb", "parquet", str(path))
    with pytest.raises(BadInputError, match="holds binary values, not texts"):
        check_source(spec)
    with pytest.raises(BadInputError, match="line 1: text column 'text' holds a bytes"):
        load_table(path)


def _ml100k(folder: Path, data: str) -> Path:
    folder.mkdir()
    (folder / "u.data").write_text(data)
    (folder / "u.item").write_text(f"10|A (1990)|||u|{FLAGS}\n20|B (1991)|||u|{FLAGS}\n")
    return folder


@pytest.mark.parametrize("data, message", [
    ("1\t10\t5\t100\n2\t20\t9\t101\n", "line 2: rating 9 is outside the MovieLens scale 0.5..5"),
    ("1\t10\t0\t100\n", "line 1: rating 0 is outside"),
    ("-1\t10\t4\t100\n", "line 1: user_id -1 is negative"),
    ("1\t-10\t4\t100\n", "line 1: item_id -10 is negative"),
    ("1.5\t10\t4\t100\n", "user_id 1.5 is not a whole number"),
])
def test_movielens_out_of_range_values_are_refused(tmp_path, data, message):
    with pytest.raises(BadInputError, match=message):
        load_ml100k(_ml100k(tmp_path / "ml", data))


def test_movielens_half_star_ratings_are_fine(tmp_path):
    interactions, _items = load_ml100k(_ml100k(tmp_path / "ml", "1\t10\t0.5\t1\n1\t20\t5\t2\n"))
    assert interactions["rating"].tolist() == [0.5, 5.0]


def test_ml1m_negative_item_in_movies_is_refused(tmp_path):
    path = tmp_path / "ml-1m.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ml-1m/ratings.dat", "1::1::5::100\n")
        zf.writestr("ml-1m/movies.dat", "-1::A (1990)::Drama\n")
    with pytest.raises(BadInputError, match="item id -1 is negative"):
        load_ml1m(path)


# --- item 8: the messages ----------------------------------------------------------------
def test_missing_ids_are_named_not_called_duplicate_nan(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("id,text,label\n,a,1\n,b,0\n")
    with pytest.raises(BadInputError, match="line 2: id column 'id' is empty") as info:
        load_table(path, id_column="id")
    assert "nan" not in str(info.value) and "[]" not in str(info.value)
    with pytest.raises(BadInputError, match="line 1: id is missing"):
        build_documents("c", pd.Series([None, "x"]), pd.Series(["a", "b"]), pd.Series([1, 0]),
                        "t", where="w")


def test_duplicate_ids_name_their_lines(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("id,text,label\n7,a,1\n8,b,0\n7,c,1\n")
    with pytest.raises(BadInputError, match=r"duplicate id on lines \[2, 4\]"):
        load_table(path, id_column="id")


def test_an_unknown_label_is_skipped_with_its_line_in_csv_and_parquet(tmp_path):
    """Issue 22: a label that is not a documented spelling is counted as skipped, with the
    line as the example (never its value), in CSV and Parquet alike."""
    path = tmp_path / "r.csv"
    path.write_text("text,label\na,1\nb,7\n")
    frame = load_table(path)
    assert frame["label"].tolist() == [1]
    assert frame.attrs["source"]["skipped"] == {"label not a documented spelling": 1}
    assert frame.attrs["source"]["examples"] == [f"{path}:3 (label not a documented spelling)"]
    parquet = tmp_path / "r.parquet"
    pd.DataFrame({"text": ["a", "b"], "label": [1, 7]}).to_parquet(parquet)
    frame = load_table(parquet)
    assert frame["label"].tolist() == [1]
    assert frame.attrs["source"]["examples"] == [f"{parquet}:2 (label not a documented spelling)"]


def test_directory_and_zip_are_called_what_they_are(tmp_path):
    with pytest.raises(BadInputError, match="is a directory, not a file"):
        load_table(tmp_path)
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("aclImdb/train/pos/0_9.txt", "good")
    (spec,) = plan_sources("imdb", "aclimdb", str(archive))
    with pytest.raises(BadInputError, match="is an archive") as info:
        check_source(spec)
    assert "not found" not in str(info.value)


def test_a_long_header_is_not_echoed(tmp_path):
    """Issue 22: the header is counted, never quoted (it may be any file's first line)."""
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(200_000)) + "\n1\n")
    with pytest.raises(BadInputError) as info:
        load_table(path)
    assert len(str(info.value)) < 500 and "c0" not in str(info.value)
    assert "the header has 200000 column(s)" in str(info.value)
