"""Is a service there? Short reachability checks run before a command starts.

Why: a Dask scheduler that is not running, or a dataset hub without network, otherwise
shows up after Prefect has started, as a traceback after Dask's 30 s connect timeout or
after the ingest task's retries (issue 22). These checks answer within a few seconds and
let the CLI say so in one line. They only tell whether something answers; what it
answers is the caller's business.
"""
from __future__ import annotations

import threading


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
