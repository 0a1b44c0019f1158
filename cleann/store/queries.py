"""Named analysis queries (`sql/queries/*.sql`) run read-only against the database.

Why read-only with a short wait: DuckDB lets only one process hold a database file while
it writes, so `cleann query` opens the file read-only and retries for a few seconds when
the pipeline's loader holds it (the loader keeps it only for one short transaction per
batch, so queries see whole batches, never half of one). In turn the loader waits for
a running query to close the file.

Each file starts with header comments: ``name``, ``description``, ``kind`` (sentiment,
rec, any: which run ``--run`` defaults to; ``all``: no run), ``params`` (prose),
``defaults`` (``key=value, ...``) and ``types`` (``key=int 1..1000, key=float 0..1``: each
non-run parameter's type and inclusive range, checked before the query runs).
Parameters are DuckDB named parameters (``$run``). Parameters named ``run`` or ``run_*``
are run ids: always text, and checked to exist.

Word-level queries read the ``words`` view and the interval macros (``wilson_low`` ...)
of ``sql/migrations/301_words.sql``. A database last written before that migration and
opened read-only gets them as temporary objects, so queries work on it unchanged.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import pandas as pd

from cleann.errors import BadInputError
from cleann.store.runs import open_db

_HEADER = re.compile(r"^--\s*(\w+):\s*(.*)$")
_PARAM = re.compile(r"\$([A-Za-z_]\w*)")


@dataclass(frozen=True)
class ParamType:
    """A query parameter's declared type (int | float) and inclusive range (None: open)."""

    kind: str
    low: float | None = None
    high: float | None = None

    def check(self, key: str, value: Any) -> int | float:
        """``value`` (text from ``--param`` or a number) as this type, or one BadInputError line."""
        shown = _short_value(value)
        span = f"{_number_text(self.low)}..{_number_text(self.high)}"
        what = "a whole number" if self.kind == "int" else "a number"
        if isinstance(value, bool):
            raise BadInputError(f"--param {key}={shown}: {key} must be {what} in {span}")
        number = _value(value.strip()) if isinstance(value, str) else value
        if self.kind == "int" and isinstance(number, float) and number.is_integer() and abs(number) < 2**53:
            number = int(number)
        ok_type = isinstance(number, int) if self.kind == "int" else isinstance(number, (int, float))
        if not ok_type or (isinstance(number, float) and not math.isfinite(number)):
            raise BadInputError(f"--param {key}={shown}: {key} must be {what} in {span}")
        if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
            raise BadInputError(f"--param {key}={shown}: {key} must be in {span}")
        return number


_TYPE = re.compile(r"^(\w+)\s*=\s*(int|float)(?:\s+(-?[\d.e+]*)\.\.(-?[\d.e+]*))?$")


def _parse_types(text: str) -> dict[str, ParamType]:
    out = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        match = _TYPE.match(item)
        if not match:
            raise ValueError(f"bad types header item {item!r}")
        key, kind, low, high = match.groups()
        out[key] = ParamType(kind, float(low) if low else None, float(high) if high else None)
    return out


def _number_text(bound: float | None) -> str:
    if bound is None:
        return ""
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def _short_value(value: Any, limit: int = 40) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    kind: str
    params: str
    sql: str
    defaults: dict[str, Any] = field(default_factory=dict)
    types: dict[str, ParamType] = field(default_factory=dict)

    def check_param(self, key: str, value: Any) -> Any:
        """A non-run parameter's value checked against its declared type and range; run
        ids are returned as text (checked to exist when the query runs)."""
        if _is_run_param(key):
            return str(value)
        declared = self.types.get(key)
        if declared is None:
            raise BadInputError(f"query {self.name}: parameter {key!r} has no declared type")
        return declared.check(key, value)

    @property
    def parameters(self) -> list[str]:
        return sorted(set(_PARAM.findall(self.sql)))


def _value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_param(key: str, text: str) -> Any:
    """A ``--param KEY=VALUE`` value: run ids stay text (``1234e567...`` is a run id, not a float)."""
    return text if _is_run_param(key) else _value(text)


def _is_run_param(key: str) -> bool:
    return key == "run" or key.startswith("run_")


def parse_query(name: str, text: str) -> NamedQuery:
    header: dict[str, str] = {}
    for line in text.splitlines():
        m = _HEADER.match(line.strip())
        if not m:
            if line.strip() and not line.strip().startswith("--"):
                break
            continue
        header[m.group(1).lower()] = m.group(2).strip()
    defaults = {}
    for item in filter(None, (p.strip() for p in header.get("defaults", "").split(","))):
        key, _, val = item.partition("=")
        defaults[key.strip()] = _value(val.strip())
    return NamedQuery(header.get("name", name), header.get("description", ""), header.get("kind", "any"),
                      header.get("params", ""), text, defaults, _parse_types(header.get("types", "")))


def list_queries() -> dict[str, NamedQuery]:
    """Every named query shipped in `cleann.sql/queries`, by name."""
    folder = files("cleann.sql").joinpath("queries")
    out = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            q = parse_query(entry.name[:-4], entry.read_text())
            out[q.name] = q
    return out


def get_query(name: str) -> NamedQuery:
    queries = list_queries()
    if name not in queries:
        raise BadInputError(f"query {name!r} does not exist; `cleann query --list` shows {', '.join(queries)}")
    return queries[name]


WORDS_MIGRATION = "301_words.sql"


def ensure_word_objects(con) -> None:
    """Create the ``words`` view and interval macros as temporary objects when the
    database predates migration 301 (a read-only connection cannot migrate it)."""
    have = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'words'").fetchall()[0][0]
    if have:
        return
    sql = files("cleann.sql").joinpath("migrations", WORDS_MIGRATION).read_text()
    sql = re.sub(r"CREATE OR REPLACE (MACRO|VIEW)", r"CREATE OR REPLACE TEMP \1", sql)
    con.execute(sql)


def latest_run(con, kind: str) -> str | None:
    kinds = ("sentiment", "rec") if kind in ("any", "all") else (kind,)
    rows = con.execute(
        "SELECT run_id FROM runs WHERE kind IN (SELECT unnest($kinds)) "
        "ORDER BY started_at DESC NULLS LAST, run_id LIMIT 1", {"kinds": list(kinds)}).fetchall()
    return rows[0][0] if rows else None


def run_query(
    name: str,
    db_path: str | Path | None = None,
    run: str | None = None,
    params: dict[str, Any] | None = None,
    wait_s: float = 10.0,
    con=None,
) -> pd.DataFrame:
    """Run a named query; ``run`` defaults to the latest run of the query's kind."""
    query = get_query(name)
    unknown = set(params or {}) - set(query.parameters)
    if unknown:
        raise BadInputError(f"query {name} has no parameter {sorted(unknown)[0]!r}; it takes {query.parameters}")
    values = {**query.defaults, **{k: query.check_param(k, v) for k, v in (params or {}).items()}}

    def execute(c) -> pd.DataFrame:
        if "run" in query.parameters:
            values["run"] = run or latest_run(c, query.kind)
            if values["run"] is None:
                kind = "" if query.kind in (None, "", "any") else f"{query.kind} "
                raise BadInputError(f"query {name}: no {kind}run in the database; pass --run RUN_ID")
        missing = [p for p in query.parameters if p not in values]
        if missing:
            raise BadInputError(f"query {name} needs parameter {missing[0]!r} (--param {missing[0]}=VALUE)")
        for key in filter(_is_run_param, query.parameters):
            values[key] = str(values[key])
            if not c.execute("SELECT count(*) FROM runs WHERE run_id = ?", [values[key]]).fetchall()[0][0]:
                raise BadInputError(f"query {name}: run {values[key]!r} ({key}) is not in the database "
                                    "(`cleann query runs` lists them)")
        ensure_word_objects(c)
        return c.execute(query.sql, {p: values[p] for p in query.parameters}).df()

    if con is not None:
        return execute(con)
    with open_db(db_path, read_only=True, wait_s=wait_s) as c:
        return execute(c)
