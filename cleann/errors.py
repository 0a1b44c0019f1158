"""Errors a user can cause and fix; the CLI prints them as one line without a traceback.

Why: the brief asks that bad input never produces a traceback. Library code raises these
(or subclasses) with a message naming the input and what is wrong with it.
"""
from __future__ import annotations


class CleannError(Exception):
    """Base class for user-facing errors."""


class BadInputError(CleannError, ValueError):
    """An input file, column, parameter or value is unusable; the message names it."""


class ArtifactError(CleannError):
    """A pinned artifact could not be fetched, verified or extracted."""
