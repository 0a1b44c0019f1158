"""What a command that prints data prints, for each value of ``--format table|csv|json``.

Why one place: every command that prints data takes the same flag, declared once by
:func:`add_format_option`, and means the same by it: ``table`` is for people (the
command's own text), ``csv`` is one header line and one line per row, ``json`` is exactly
one JSON document on stdout and nothing else, so a script can ``json.loads`` the whole
output. Progress goes to stderr in csv/json mode. Rows of dicts go through :func:`render`,
query results (DataFrames) through :func:`format_frame`.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("table", "csv", "json")


def add_format_option(p: argparse.ArgumentParser, extra: tuple[str, ...] = ()) -> None:
    """``--format table|csv|json`` (default table), plus a command's ``extra`` table styles
    (evaluate: markdown). The one declaration of the output flag of every command."""
    styles = ", ".join(("table", *extra))
    p.add_argument("--format", choices=FORMATS + tuple(extra), default="table",
                   help=f"{styles} (for people), csv or json (for scripts; json is one document, "
                        "nothing else on stdout) (default table)")


def flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """One CSV-ready row: nested mappings become dotted columns (``counts.ratings``), lists
    are joined with ``;``."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            flat[name] = ";".join(map(str, value))
        else:
            flat[name] = value
    return flat


def csv_text(rows: Iterable[Mapping[str, Any]]) -> str:
    """Rows as CSV with a header; the columns are the union of the rows' keys in first-seen order."""
    flat = [flatten(r) for r in rows]
    columns: dict[str, None] = {}
    for row in flat:
        columns.update(dict.fromkeys(row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return buf.getvalue().rstrip("\n")


def render(fmt: str, rows: list[Mapping[str, Any]], *, document: Any = None,
           table: str | Callable[[], str] | None = None) -> str:
    """The output text of a command for ``--format fmt``.

    ``rows`` feed csv (and json when no ``document`` is given); ``document`` is the JSON
    value printed for json (e.g. a command's whole nested result); ``table`` is the text
    for people (a string or a function making it), by default the rows aligned.
    """
    if fmt == "json":
        return json.dumps([dict(r) for r in rows] if document is None else document, default=str)
    if fmt == "csv":
        return csv_text(rows)
    if fmt != "table":
        raise ValueError(f"unknown output format {fmt!r}")
    if table is not None:
        return table() if callable(table) else table
    if not rows:
        return "(no rows)"
    import pandas as pd

    return pd.DataFrame([flatten(r) for r in rows]).to_string(index=False, max_colwidth=80)


def format_frame(frame: pd.DataFrame, fmt: str = "table", max_rows: int = 0, more: str = "") -> str:
    """A query result (``cleann sql``, ``cleann query``, the demo) for ``--format fmt``.

    csv: header + rows; json: one array of records (dates ISO 8601, non-ASCII text kept as
    UTF-8); table: aligned text, at most ``max_rows`` rows (0 = all), then a line saying how
    many there were (plus ``more``, e.g. the flag that shows them all); an empty result
    names its columns.
    """
    if fmt == "csv":
        return frame.to_csv(index=False).rstrip("\n")
    if fmt == "json":
        return frame.to_json(orient="records", date_format="iso", force_ascii=False)
    if fmt != "table":
        raise ValueError(f"unknown output format {fmt!r}")
    if frame.empty:
        return f"(0 rows; columns: {', '.join(map(str, frame.columns))})"
    shown = frame if not max_rows or len(frame) <= max_rows else frame.head(max_rows)
    text = shown.to_string(index=False, max_colwidth=80)
    if len(shown) < len(frame):
        text += f"\n... ({len(frame):,} rows, first {max_rows} shown{more})"
    return text


def print_out(*texts: str) -> None:
    """Print ``texts`` to stdout; a reader that went away (``cleann query runs | head``,
    ``| true``) ends the output quietly instead of with a BrokenPipeError traceback."""
    import os
    import sys

    try:
        for text in texts:
            print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit; point it at /dev/null so that flush is silent.
        sys.stdout = open(os.devnull, "w")
