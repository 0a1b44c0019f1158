"""Cleaning, ids, splits and label mapping shared by every text source."""
from __future__ import annotations

import pandas as pd
import pytest

from cleann.errors import BadInputError
from cleann.sources.text import (
    DOC_COLUMNS, NEUTRAL_ZERO, UNKNOWN_LABEL, build_documents, clean_text, hash_split, make_doc_ids,
    normalize_labels,
)


def test_clean_text_removes_br_entities_and_extra_whitespace():
    raw = pd.Series(["Great film.<br /><br />Loved it &amp; more", "  a\n\tb  ", "x<BR>y &quot;z&quot;"])
    assert clean_text(raw).tolist() == ["Great film. Loved it & more", "a b", 'x y "z"']


def test_doc_ids_are_stable_and_depend_on_corpus_and_native_id():
    ids = make_doc_ids("c", pd.Series(["1", "2", "3"]))
    assert ids.tolist() == make_doc_ids("c", pd.Series(["1", "2", "3"])).tolist()
    assert ids.is_unique and all(len(i) == 16 for i in ids)
    assert make_doc_ids("other", pd.Series(["1"]))[0] != ids[0]
    assert make_doc_ids("c", pd.Series(["3", "1"])).tolist() == [ids[2], ids[0]]


def test_hash_split_is_deterministic_and_about_80_20():
    ids = make_doc_ids("c", pd.Series(range(5000)).astype(str))
    split = hash_split(ids)
    share = (split == "train").mean()
    assert 0.77 < share < 0.83
    assert hash_split(ids.iloc[::-1]).iloc[::-1].tolist() == split.tolist()


@pytest.mark.parametrize("values,expected", [
    ([1, -1, 1], [1, 0, 1]),
    (["pos", "NEG", "positive"], [1, 0, 1]),
    (["fresh", "rotten"], [1, 0]),
    ([True, False], [1, 0]),
    ([1.0, 0.0], [1, 0]),
])
def test_labels_normalised(values, expected):
    labels, skips = normalize_labels(pd.Series(values))
    assert labels.tolist() == expected and skips == {}


def test_unknown_label_is_skipped_with_its_reason_not_guessed():
    labels, skips = normalize_labels(pd.Series(["pos", "neg", "meh", "7"]))
    assert labels.tolist()[:2] == [1, 0] and labels[2:].isna().all()
    assert {k: v.tolist() for k, v in skips.items()} == {UNKNOWN_LABEL: [False, False, True, True]}


def test_zero_beside_minus_one_is_not_read_as_negative():
    """1, 0, -1 in one column is a three-way scale: 0 is skipped (neutral?), -1 is negative."""
    labels, skips = normalize_labels(pd.Series(["1", "0", "-1", "pos", "rotten"]))
    assert labels.tolist()[2:] == [0, 1, 0] and pd.isna(labels[1]) and labels[0] == 1
    assert {k: v.tolist() for k, v in skips.items()} == {NEUTRAL_ZERO: [False, True, False, False, False]}


def test_mixed_labels_are_counted_as_skipped_with_lines():
    frame = build_documents("c", pd.Series(list("abcdef")), pd.Series(["t"] * 6),
                            pd.Series(["1", "0", "-1", "pos", "rotten", "meh"]), "s", where="f.csv",
                            first_line=2)
    assert frame["label"].tolist() == [1, 0, 1, 0]
    assert frame.attrs["skipped"] == {UNKNOWN_LABEL: 1, NEUTRAL_ZERO: 1}
    assert frame.attrs["examples"] == [f"f.csv:7 ({UNKNOWN_LABEL})", f"f.csv:3 ({NEUTRAL_ZERO})"]


def test_only_unknown_labels_is_an_error_that_quotes_no_value():
    with pytest.raises(BadInputError, match="no usable rows") as info:
        build_documents("c", pd.Series(["a", "b"]), pd.Series(["t", "u"]), pd.Series(["root:x:0", "secret"]),
                        "s", where="f.csv")
    assert "root" not in str(info.value) and "secret" not in str(info.value)


def test_build_documents_skips_empty_text_and_missing_label_and_counts_them():
    frame = build_documents(
        "c", pd.Series(["a", "b", "c", "d"]), pd.Series(["good", "  <br />", "bad", "ok"]),
        pd.Series([1, 0, None, 0]), "test", where="t")
    assert list(frame.columns) == DOC_COLUMNS
    assert frame["text"].tolist() == ["good", "ok"]
    assert frame.attrs["skipped"] == {"empty text": 1, "missing label": 1}
    assert set(frame["split"]) <= {"train", "test"}


def test_duplicate_native_ids_are_an_error_naming_lines():
    with pytest.raises(BadInputError, match=r"duplicate id on lines \[2, 4\]"):
        build_documents("c", pd.Series(["x", "y", "x"]), pd.Series(["a", "b", "c"]),
                        pd.Series([1, 0, 1]), "s", where="f.csv", first_line=2)


def test_upstream_split_is_kept():
    frame = build_documents("c", pd.Series(["a", "b"]), pd.Series(["t1", "t2"]),
                            pd.Series([1, 0]), "s", where="w", splits=pd.Series(["test", "test"]))
    assert frame["split"].tolist() == ["test", "test"]
