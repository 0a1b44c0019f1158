"""MovieLens loaders on small hand-made ml-1m / ml-100k / RecBole files."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from cleann.errors import BadInputError
from cleann.sources.movielens import (
    ML100K_GENRES, load_ml1m, load_ml100k, load_offline_ml100k, load_recbole_ml100k,
)

RATINGS_DAT = "1::10::5::978300760\n1::20::3::978302109\n2::10::4::978301968\n"
MOVIES_DAT = "10::Caf\xe9 Society (1995)::Comedy|Drama\n20::Heat (1995)::Action|Crime|Thriller\n"


def write_ml1m_folder(root: Path, ratings: str = RATINGS_DAT, movies: str = MOVIES_DAT) -> Path:
    folder = root / "ml-1m"
    folder.mkdir(parents=True)
    (folder / "ratings.dat").write_bytes(ratings.encode("latin-1"))
    (folder / "movies.dat").write_bytes(movies.encode("latin-1"))
    return folder


def test_ml1m_zip_latin1(tmp_path):
    path = tmp_path / "ml-1m.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ml-1m/ratings.dat", RATINGS_DAT.encode("latin-1"))
        zf.writestr("ml-1m/movies.dat", MOVIES_DAT.encode("latin-1"))
        zf.writestr("ml-1m/README", "x")
    interactions, items = load_ml1m(path)
    assert interactions[["user_id", "item_id", "rating", "ts"]].values.tolist() == [
        [1, 10, 5.0, 978300760], [1, 20, 3.0, 978302109], [2, 10, 4.0, 978301968]]
    assert str(interactions["user_id"].dtype) == "int64"
    assert items["title"].tolist() == ["Café Society (1995)", "Heat (1995)"]
    assert items["year"].tolist() == [1995, 1995]
    assert items["genres"].tolist() == [["Comedy", "Drama"], ["Action", "Crime", "Thriller"]]


def test_ml1m_folder_malformed_lines_skipped_and_named(tmp_path):
    ratings = RATINGS_DAT + "3::10::oops::1\n3::10\n\n4::20::2::978300000::extra\n5::20::1::978300001\n"
    folder = write_ml1m_folder(tmp_path, ratings=ratings)
    interactions, _ = load_ml1m(folder)
    assert len(interactions) == 4
    info = interactions.attrs["source"]
    assert info["skipped"] == {"malformed line": 3}
    assert [e.rsplit(":", 1)[1] for e in info["examples"]] == ["4", "5", "7"]


def test_ml1m_wrong_separator_is_an_error(tmp_path):
    folder = write_ml1m_folder(tmp_path, ratings="1,10,5,978300760\n2,10,4,978301968\n")
    with pytest.raises(BadInputError, match=r"ratings\.dat: no line has 4 '::'-separated fields"):
        load_ml1m(folder)


def test_ml1m_empty_and_missing(tmp_path):
    folder = write_ml1m_folder(tmp_path, ratings="")
    with pytest.raises(BadInputError, match=r"ratings\.dat: file is empty"):
        load_ml1m(folder)
    with pytest.raises(BadInputError, match="not found"):
        load_ml1m(tmp_path / "absent.zip")
    (tmp_path / "other").mkdir()
    with pytest.raises(BadInputError, match="no ratings.dat"):
        load_ml1m(tmp_path / "other")


def test_ml1m_duplicate_movie_id(tmp_path):
    folder = write_ml1m_folder(tmp_path, movies=MOVIES_DAT + "10::Again (1999)::Drama\n")
    with pytest.raises(BadInputError, match=r"duplicate item id 10 on lines \[1, 3\]"):
        load_ml1m(folder)


def u_item_line(item_id: int, title: str, genres: set[str]) -> str:
    flags = "|".join("1" if g in genres else "0" for g in ML100K_GENRES)
    return f"{item_id}|{title}|01-Jan-1995||http://x|{flags}\n"


def test_ml100k_zip_genre_flags(tmp_path):
    path = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ml-100k/u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
        zf.writestr("ml-100k/u.item", (u_item_line(242, "Kolya (1996)", {"Comedy"})
                                       + u_item_line(302, "L.A. Confidential (1997)",
                                                     {"Crime", "Film-Noir", "Thriller"})
                                       ).encode("latin-1"))
    interactions, items = load_ml100k(path)
    assert interactions["item_id"].tolist() == [242, 302]
    assert items["genres"].tolist() == [["Comedy"], ["Crime", "Film-Noir", "Thriller"]]
    assert items["year"].tolist() == [1996, 1997]


def write_recbole(folder: Path, inter_header: str = "user_id:token\titem_id:token\trating:float\ttimestamp:float") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ml-100k.inter").write_text(
        f"{inter_header}\n196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t5\t881250950\n")
    (folder / "ml-100k.item").write_text(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        "242\tKolya\t1996\tComedy\n302\tL.A. Confidential\t1997\tCrime Film-Noir Thriller\n")
    return folder


def test_recbole_atomic_files(tmp_path):
    interactions, items = load_recbole_ml100k(write_recbole(tmp_path / "rb"))
    assert len(interactions) == 3 and interactions["user_id"].nunique() == 2
    assert items.set_index("item_id")["genres"][302] == ["Crime", "Film-Noir", "Thriller"]
    assert items["year"].tolist() == [1996, 1997]


def test_recbole_header_missing_field(tmp_path):
    folder = write_recbole(tmp_path / "rb", inter_header="user_id:token\titem_id:token\trating:float\tts:float")
    with pytest.raises(BadInputError, match=r"ml-100k\.inter: header lacks \['timestamp'\]"):
        load_recbole_ml100k(folder)


def test_offline_ml100k_uses_the_registry(tmp_path):
    folder = write_recbole(tmp_path / "rb")
    asked = []
    interactions, _ = load_offline_ml100k(fetch=lambda name: asked.append(name) or folder)
    assert asked == ["recbole"]
    assert interactions.attrs["source"]["version"] == "recbole==1.2.1"
