"""Errors a user can cause and fix; the CLI prints them as one line without a traceback.

Why: the brief asks that bad input never produces a traceback. Library code raises these
(or subclasses) with a message naming the input and what is wrong with it. Values taken
from the input (a header, a cell) are cut with `shorten` so a 20 MB line is never echoed.
"""
from __future__ import annotations

VALUE_LIMIT = 200
MESSAGE_LIMIT = 500


class CleannError(Exception):
    """Base class for user-facing errors."""


class BadInputError(CleannError, ValueError):
    """An input file, column, parameter or value is unusable; the message names it."""


class ArtifactError(CleannError):
    """A pinned artifact could not be fetched, verified or extracted."""


def shorten(value: object, limit: int = VALUE_LIMIT) -> str:
    """``repr``-free text of ``value`` cut to ``limit`` characters, saying how much was cut."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} chars)"


def one_line(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """A message as one line of at most about ``limit`` characters (newlines folded)."""
    return shorten(" ".join(message.split()), limit)
