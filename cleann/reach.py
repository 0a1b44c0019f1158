"""Can a command reach what it was pointed at? Checks run before a command starts.

Why: a Dask scheduler that is not running, a dataset hub without network, or a staging
URL whose protocol or package is missing otherwise shows up after Prefect has started,
as a traceback after Dask's 30 s connect timeout, after the ingest task's retries, or in
a worker (issue 22). These checks answer within a few seconds and let the CLI say so in
one line. They only tell whether something answers or could be opened; what it answers
is the caller's business. (No cleann imports but errors: parameters and stores use this.)
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from cleann.errors import BadInputError


def tcp_problem(host: str, port: int, timeout_s: float = 2.0) -> str | None:
    """None when ``host:port`` accepts a TCP connection within ``timeout_s``; else why not.
    Name lookup runs in a daemon thread too, so a hanging resolver cannot hold the command."""
    import socket

    outcome: list[str | None] = []

    def dial() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                outcome.append(None)
        except OSError as exc:
            outcome.append(exc.strerror or type(exc).__name__)

    thread = threading.Thread(target=dial, daemon=True, name="cleann-dial")
    thread.start()
    thread.join(timeout_s + 0.5)
    if not outcome:
        return f"no answer within {timeout_s:g} s"
    return outcome[0]


def http_problem(url: str, timeout_s: float = 3.0) -> str | None:
    """None when an HTTP server answers at ``url`` within ``timeout_s`` (any status: a
    404 still means the network works), honouring the proxy settings of the environment
    as the libraries that fetch later do; else why not."""
    import httpx

    try:
        httpx.head(url, timeout=timeout_s, follow_redirects=False)
    except httpx.TransportError as exc:
        return " ".join(str(exc).split()) or type(exc).__name__
    except httpx.InvalidURL as exc:
        return f"not a valid URL ({exc})"
    return None


def check_staging_url(root: str, option: str = "--staging-dir") -> str:
    """A staging location fsspec can write: a known protocol whose package is installed
    (``bogus://x`` and ``s3://...`` without s3fs are refused here, in one line, instead of
    failing in a worker). Nothing is opened or contacted."""
    from fsspec import get_filesystem_class
    from fsspec.core import split_protocol

    text = str(root)
    if not text.strip():
        raise BadInputError(f"{option}: empty path")
    for part in text.split("::"):  # chained URLs: simplecache::s3://bucket/x
        protocol, _ = split_protocol(part)
        if protocol is None:
            continue
        try:
            get_filesystem_class(protocol)
        except ValueError:
            raise BadInputError(f"{option} {_cut(text)}: unknown storage protocol {_cut(protocol, 30)!r} "
                                "(a local folder or an fsspec URL such as s3://bucket/path)") from None
        except ImportError as exc:
            hint = " ".join(str(exc).split()) or f"a package for {protocol}:// is not installed"
            raise BadInputError(f"{option} {_cut(text)}: {protocol}:// needs a package that is not "
                                f"installed ({_cut(hint, 120)})") from None
    return text


def check_staging_root(root: str, option: str = "--staging-dir") -> None:
    """What can be checked of a staging location before a run starts: its URL
    (:func:`check_staging_url`) and, for a local path, that it is (or can become) a folder
    this user may write: not a file, not under a file."""
    from fsspec.core import split_protocol

    check_staging_url(root, option)
    protocol, path = split_protocol(str(root))
    if protocol not in (None, "file", "local"):
        return  # remote: contacted only by the run (credentials, network)
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise BadInputError(f"{option} {_cut(str(root))}: is a file, not a folder")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise BadInputError(f"{option} {_cut(str(root))}: {_cut(str(existing))} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise BadInputError(f"{option} {_cut(str(root))}: cannot create files in {_cut(str(existing))} "
                            "(permission denied)")


def _cut(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."
