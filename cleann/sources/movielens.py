"""MovieLens ratings and movies: ml-1m `.dat`, ml-100k `u.data`/`u.item`, RecBole atomic files.

Why: BERT4Rec explanations need user histories (interactions) and readable items.
Users hold GroupLens zips or folders; the offline default is the real ml-100k inside the
pinned RecBole wheel. All three parse column-wise (split on the separator, coerce to
numbers) so a 1M-line file needs no Python loop; malformed lines are skipped, counted
and named by line number in `attrs["skipped"]` / `attrs["source"]["examples"]`.
"""
from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from cleann.errors import BadInputError, shorten
from cleann.sources import artifacts

INTERACTION_COLUMNS = ["corpus", "user_id", "item_id", "rating", "ts"]
ITEM_COLUMNS = ["corpus", "item_id", "title", "year", "genres"]
ML100K_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
]
MAX_EXAMPLES = 5
RATING_MIN, RATING_MAX = 0.5, 5.0


def load_ml1m(path: str | Path, corpus: str = "ml-1m") -> tuple[pd.DataFrame, pd.DataFrame]:
    """GroupLens ml-1m (`ml-1m.zip` or its folder): `::`-separated, latin-1."""
    ratings_raw, ratings_name = read_member(path, "ratings.dat")
    movies_raw, movies_name = read_member(path, "movies.dat")
    ratings, bad_r = split_fields(ratings_raw.decode("latin-1"), "::", 4, ratings_name,
                                  numeric=[0, 1, 2, 3])
    movies, bad_m = split_fields(movies_raw.decode("latin-1"), "::", 3, movies_name,
                                 numeric=[0])
    interactions = _interactions(corpus, ratings[0], ratings[1], ratings[2], ratings[3],
                                 where=ratings_name, lines=ratings["line"])
    items = _items(corpus, movies[0], movies[1], None, movies[2].str.split("|"),
                   movies_name, movies["line"])
    return _with_source(interactions, items, "ml-1m", path, bad_r + bad_m)


def load_ml100k(path: str | Path, corpus: str = "ml-100k") -> tuple[pd.DataFrame, pd.DataFrame]:
    """GroupLens ml-100k (`ml-100k.zip` or folder): tab-separated `u.data`, `|`-separated
    latin-1 `u.item` with 19 genre flags (names from `u.genre` when present)."""
    data_raw, data_name = read_member(path, "u.data")
    item_raw, item_name = read_member(path, "u.item")
    ratings, bad_r = split_fields(data_raw.decode("latin-1"), "\t", 4, data_name,
                                  numeric=[0, 1, 2, 3])
    n_item_fields = 5 + len(ML100K_GENRES)
    movies, bad_m = split_fields(item_raw.decode("latin-1"), "|", n_item_fields, item_name,
                                 numeric=[0, *range(5, n_item_fields)])
    flags = movies[list(range(5, n_item_fields))].to_numpy(dtype=bool)
    names = np.array(ML100K_GENRES, dtype=object)
    genres = pd.Series([list(names[row]) for row in flags], index=movies.index)
    interactions = _interactions(corpus, ratings[0], ratings[1], ratings[2], ratings[3],
                                 where=data_name, lines=ratings["line"])
    items = _items(corpus, movies[0], movies[1], None, genres, item_name, movies["line"])
    return _with_source(interactions, items, "ml-100k", path, bad_r + bad_m)


def load_recbole_ml100k(
    folder: str | Path, corpus: str = "ml-100k"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """RecBole atomic files `ml-100k.inter` / `ml-100k.item` (TSV, `name:type` headers)."""
    folder = Path(folder)
    inter = read_atomic(folder / "ml-100k.inter",
                        ["user_id", "item_id", "rating", "timestamp"])
    item = read_atomic(folder / "ml-100k.item",
                       ["item_id", "movie_title", "release_year", "class"])
    interactions = _interactions(corpus, inter["user_id"], inter["item_id"], inter["rating"],
                                 inter["timestamp"], where=str(folder / "ml-100k.inter"),
                                 lines=inter.index + 2)
    genres = item["class"].fillna("").str.split()
    items = _items(corpus, item["item_id"], item["movie_title"], item["release_year"], genres,
                   str(folder / "ml-100k.item"), item.index + 2)
    return _with_source(interactions, items, "recbole", folder, [])


def load_offline_ml100k(
    fetch: Callable[[str], Path] = artifacts.fetch,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The real ml-100k from the pinned RecBole wheel (fetched and cached on first use)."""
    interactions, items = load_recbole_ml100k(fetch("recbole"))
    pinned = artifacts.get_artifact("recbole")
    info = {"kind": "offline", "location": f"{pinned.requirement}:ml-100k.inter,ml-100k.item",
            "version": pinned.requirement, "package_sha256": pinned.sha256,
            "skipped": interactions.attrs.get("skipped", {})}
    interactions.attrs["source"] = info
    return interactions, items


def check_members(path: Path, filenames: tuple[str, ...]) -> None:
    """A zip or folder that holds every file in ``filenames`` (checked by name only, so
    a 25 MB zip is not read twice); otherwise a BadInputError saying what is wrong."""
    if not path.exists():
        raise BadInputError(f"{path}: not found (expected a GroupLens zip or its folder)")
    if path.is_dir():
        for filename in filenames:
            if not any(c.is_file() for c in (path / filename, *path.glob(f"*/{filename}"))):
                raise BadInputError(f"{path}: no {filename} in this folder")
        return
    if not path.is_file():
        raise BadInputError(f"{path}: not a regular file or folder")
    if not zipfile.is_zipfile(path):
        raise BadInputError(f"{path}: not a zip file or folder")
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadInputError(f"{path}: damaged zip file ({exc})") from None
    for filename in filenames:
        if not any(n == filename or n.endswith("/" + filename) for n in names):
            raise BadInputError(f"{path}: no {filename} inside the zip")


RATING_FORMATS = {"ml-1m": ("ratings.dat", "::"), "ml-100k": ("u.data", "\t")}


def check_rating_lines(path: Path, source: str, lines: int = 5) -> None:
    """At least one of the first ``lines`` lines of the ratings file is a MovieLens rating
    (4 numbers, the source's separator), checked before a flow starts: a folder whose
    ``u.data`` is something else (a link to /etc/passwd) is refused at once, without
    quoting what it holds."""
    filename, sep = RATING_FORMATS[source]
    head, where = _member_head(path, filename)
    text_lines = head.decode("latin-1").splitlines()
    if len(head) == HEAD_BYTES and text_lines:
        text_lines = text_lines[:-1]  # the read stopped inside this line
    checked = [line for line in text_lines if line.strip()][:lines]

    def is_rating(line: str) -> bool:
        fields = [f.strip() for f in line.split(sep)]
        try:
            return len(fields) == 4 and all(float(f) == float(f) for f in fields)  # not nan
        except ValueError:
            return False

    # One malformed line is the loader's to skip and count; none that reads as a rating
    # means this is not a ratings file at all.
    if checked and not any(is_rating(line) for line in checked):
        raise BadInputError(f"{where}: none of its first {len(checked)} line(s) is a MovieLens rating (4 numbers "
                            f"separated by {sep!r}); not a MovieLens {source} file?")


HEAD_BYTES = 65536


def _member_head(path: Path, filename: str, size: int = HEAD_BYTES) -> tuple[bytes, str]:
    """The first ``size`` bytes of ``filename`` in a zip or folder (as ``read_member`` finds it)."""
    if path.is_file() and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if n == filename or n.endswith("/" + filename)]
                if not names:
                    raise BadInputError(f"{path}: no {filename} inside the zip")
                name = min(names, key=len)
                with zf.open(name) as fh:
                    return fh.read(size), f"{path}:{name}"
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise BadInputError(f"{path}: damaged zip file ({shorten(exc)})") from None
    for candidate in (path / filename, *sorted(path.glob(f"*/{filename}"))):
        if candidate.is_file():
            with candidate.open("rb") as fh:
                return fh.read(size), str(candidate)
    raise BadInputError(f"{path}: no {filename} in this folder")


def read_member(path: str | Path, filename: str) -> tuple[bytes, str]:
    """Bytes of `filename` from a zip or folder (also one folder level down)."""
    path = Path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist()
                         if n == filename or n.endswith("/" + filename)]
                if not names:
                    raise BadInputError(f"{path}: no {filename} inside the zip")
                return zf.read(min(names, key=len)), f"{path}:{min(names, key=len)}"
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise BadInputError(f"{path}: damaged zip file ({shorten(exc)})") from None
    if path.is_dir():
        for candidate in (path / filename, *sorted(path.glob(f"*/{filename}"))):
            if candidate.is_file():
                return candidate.read_bytes(), str(candidate)
        raise BadInputError(f"{path}: no {filename} in this folder")
    if path.exists():
        raise BadInputError(f"{path}: not a zip file or folder")
    raise BadInputError(f"{path}: not found")


def split_fields(
    text: str, sep: str, n_fields: int, where: str, numeric: list[int]
) -> tuple[pd.DataFrame, list[str]]:
    """Columns 0..n_fields-1 (numeric ones as numbers) plus `line`; malformed lines dropped.

    A line is malformed when it has the wrong number of fields or a non-numeric value in
    a numeric column. Returns the frame and `file:line` names of the dropped lines.
    """
    lines = pd.Series(text.splitlines())
    lines = lines[lines.str.strip() != ""]
    if lines.empty:
        raise BadInputError(f"{where}: file is empty")
    parts = lines.str.split(sep, regex=False, expand=True)
    ok = pd.Series(parts.shape[1] >= n_fields, index=parts.index)
    if parts.shape[1] > n_fields:
        ok &= parts[list(range(n_fields, parts.shape[1]))].isna().all(axis=1)
    if parts.shape[1] >= n_fields:
        ok &= parts[n_fields - 1].notna()
    line_numbers = pd.Series(lines.index + 1, index=lines.index)
    if not ok.any():
        # The line itself is not quoted: the file may not be a MovieLens file at all
        # (a link to /etc/passwd), and its contents are not ours to print (issue 22).
        raise BadInputError(f"{where}: no line has {n_fields} '{sep}'-separated fields "
                            f"(not a MovieLens file? first checked: line {line_numbers.iloc[0]})")
    parts = parts.reindex(columns=range(n_fields))
    for col in numeric:
        parts[col] = pd.to_numeric(parts[col].str.strip(), errors="coerce")
        ok &= parts[col].notna()
    if not ok.any():
        raise BadInputError(f"{where}: no line has numbers where numbers belong "
                            f"(not a MovieLens file? first checked: line {line_numbers.iloc[0]})")
    bad = [f"{where}:{n}" for n in line_numbers[~ok]]
    frame = parts[ok].copy()
    frame["line"] = line_numbers[ok]
    return frame, bad


def read_atomic(path: Path, required: list[str]) -> pd.DataFrame:
    """A RecBole atomic file: TSV whose header cells are `name:type`; returns named columns."""
    if not path.is_file():
        raise BadInputError(f"{path}: file not found")
    data = path.read_bytes()
    if not data.strip():
        raise BadInputError(f"{path}: file is empty")
    try:
        frame = pd.read_csv(io.BytesIO(data), sep="\t", dtype=str, keep_default_na=False,
                            encoding="utf-8", quoting=3)
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise BadInputError(f"{path}: not a readable RecBole atomic file ({exc})") from None
    frame.columns = [str(c).split(":", 1)[0] for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise BadInputError(f"{path}: header lacks {missing} (it has {len(frame.columns)} column(s))")
    return frame


def _interactions(corpus, users, items, ratings, ts, *, where: str = "ratings",
                  lines=None) -> pd.DataFrame:
    """Typed interactions; rows with a non-numeric field or repeated exactly are dropped.

    Ratings outside 0.5..5 (the MovieLens scale), negative or fractional ids are refused
    with the line (``lines``: the file line of each row), not stored: they mean the file
    is not what its name says, and BERT4Rec would learn from garbage.
    """
    numbers = pd.DataFrame({
        name: pd.to_numeric(col.reset_index(drop=True), errors="coerce")
        for name, col in (("user_id", users), ("item_id", items), ("rating", ratings),
                          ("ts", ts))
    })
    line_of = (pd.Series(np.asarray(lines)) if lines is not None
               else pd.Series(np.arange(len(numbers)) + 1))
    numeric = numbers.notna().all(axis=1)
    checks = [
        ("rating", ~numbers["rating"].between(RATING_MIN, RATING_MAX),
         f"is outside the MovieLens scale {RATING_MIN}..{RATING_MAX:g}"),
        ("user_id", numbers["user_id"] < 0, "is negative"),
        ("item_id", numbers["item_id"] < 0, "is negative"),
        ("user_id", numbers["user_id"] % 1 != 0, "is not a whole number"),
        ("item_id", numbers["item_id"] % 1 != 0, "is not a whole number"),
    ]
    for column, bad, problem in checks:
        bad = bad & numeric
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise BadInputError(f"{where}: line {line_of.iloc[row]}: {column} "
                                f"{numbers[column].iloc[row]:g} {problem}")
    numbers = numbers[numeric]
    dup = numbers.duplicated(["user_id", "item_id", "ts"])
    numbers = numbers[~dup]
    frame = pd.DataFrame({
        "corpus": corpus,
        "user_id": numbers["user_id"].astype("int64"),
        "item_id": numbers["item_id"].astype("int64"),
        "rating": numbers["rating"].astype("float64"),
        "ts": numbers["ts"].astype("int64"),
    }, columns=INTERACTION_COLUMNS).reset_index(drop=True)
    skipped = {"non-numeric field": int((~numeric).sum()), "duplicate rating": int(dup.sum())}
    frame.attrs["skipped"] = {k: v for k, v in skipped.items() if v}
    return frame


def _items(corpus, item_ids, titles, years, genres, where, lines) -> pd.DataFrame:
    lines = pd.Series(np.asarray(lines))
    ids = pd.to_numeric(item_ids.reset_index(drop=True), errors="coerce")
    if ids.isna().any():
        raise BadInputError(f"{where}: line {lines[ids.isna().idxmax()]}: the item id is not a number")
    if (ids < 0).any():
        row = int((ids < 0).to_numpy().argmax())
        raise BadInputError(f"{where}: line {lines[row]}: item id {ids[row]:g} is negative")
    ids = ids.astype("int64")
    dup = ids.duplicated(keep=False)
    if dup.any():
        first = ids[dup].iloc[0]
        raise BadInputError(f"{where}: duplicate item id {first} on lines "
                            f"{lines[ids == first].tolist()[:MAX_EXAMPLES]}")
    titles = titles.astype(str).str.strip().reset_index(drop=True)
    if years is None:  # GroupLens titles end with "(1995)"
        years = titles.str.extract(r"\((\d{4})\)\s*$", expand=False)
    years = pd.to_numeric(pd.Series(np.asarray(years)), errors="coerce").astype("Int64")
    return pd.DataFrame({
        "corpus": corpus, "item_id": ids, "title": titles, "year": years,
        "genres": genres.reset_index(drop=True),
    }, columns=ITEM_COLUMNS)


def _with_source(interactions, items, kind, path, bad_lines):
    skipped = dict(interactions.attrs.get("skipped", {}))
    if bad_lines:
        skipped["malformed line"] = len(bad_lines)
    interactions.attrs["skipped"] = skipped
    interactions.attrs["source"] = {"kind": kind, "location": str(Path(path).resolve()),
                                    "version": None, "package_sha256": None,
                                    "skipped": skipped, "examples": bad_lines[:MAX_EXAMPLES]}
    return interactions, items
