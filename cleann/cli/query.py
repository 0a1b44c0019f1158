"""`cleann query NAME [--run RUN_ID] [--format table|csv|json]` and `cleann query --list`.

Opens the database read-only (sandboxed, see docs/security.md) and waits while the
pipeline's loader holds it (``--wait``, default 60 s). Ctrl-C and ``--timeout`` stop the
query through DuckDB's ``interrupt()``; ``--memory-limit`` is DuckDB's setting (exit codes:
``cleann/cli/_exit.py``). Parameters are checked before the
query runs: a value for a numeric parameter must be a number, ``--param run=`` is the
same as ``--run``, and a run id that is not in the database is refused.
"""
from __future__ import annotations

import argparse
from typing import Any

from cleann.cli._exit import QUERY_EPILOG, add_exit_codes
from cleann.cli._interrupt import add_query_limits, check_query_limits, guarded
from cleann.cli._output import add_format_option, format_frame, print_out, render
from cleann.errors import BadInputError
from cleann.store.readonly import DEFAULT_WAIT_S


def register(subparsers) -> None:
    p = subparsers.add_parser("query", help="run a named analysis query (sql/queries/*.sql)")
    p.add_argument("name", nargs="?", help="query name (see --list)")
    p.add_argument("--list", action="store_true", help="list the named queries")
    p.add_argument("--run", help="run id (default: the latest run of the query's kind)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="query parameter, repeatable")
    add_format_option(p)
    p.add_argument("--db", help="DuckDB file (default $CLEANN_DB or ./cleann.duckdb)")
    p.add_argument("--wait", type=float, default=DEFAULT_WAIT_S, metavar="SECONDS",
                   help=f"seconds to wait while a run writes the database (default {DEFAULT_WAIT_S:g})")
    add_query_limits(p)
    add_exit_codes(p, QUERY_EPILOG)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from cleann.store.queries import list_queries

    if args.list or not args.name:
        queries = list(list_queries().values())
        rows = [{"name": q.name, "kind": q.kind, "description": q.description,
                 "params": "" if q.params in (None, "none") else q.params} for q in queries]
        print_out(render(args.format, rows, table=lambda: _list_table(rows)))
        return 0
    if not args.wait >= 0 or args.wait == float("inf"):  # also refuses nan
        raise BadInputError(f"--wait {args.wait:g}: use a number of seconds, 0 or more")
    check_query_limits(args)
    params, run = parse_params(args.name, args.param, args.run)
    frame = guarded(args, lambda on_connect: _run(args.name, args.db, run, params, args.wait, args.memory_limit,
                                                  on_connect), what=f"query {args.name}")
    print_out(format_frame(frame, args.format))
    return 0


def _list_table(rows: list[dict[str, str]]) -> str:
    lines = []
    for r in rows:
        lines.append(f"{r['name']:22s} [{r['kind']}] {r['description']}")
        if r["params"]:
            lines.append(f"{'':22s} params: {r['params']}")
    return "\n".join(lines)


def _run(name: str, db, run: str | None, params: dict, wait_s: float, memory_limit: str | None = None,
         on_connect=None):
    import duckdb

    from cleann.store.queries import run_query
    from cleann.store.readonly import QueryLimitError, explain_failure
    from cleann.store.runs import open_db

    settings = {"memory_limit": memory_limit} if memory_limit else None
    try:
        with open_db(db, read_only=True, wait_s=wait_s, settings=settings) as con:
            if on_connect is not None:
                on_connect(con)  # Ctrl-C and --timeout interrupt the query from here on
            return run_query(name, con=con, run=run, params=params)
    except duckdb.InterruptException:
        raise
    except duckdb.OutOfMemoryException as exc:
        raise QueryLimitError(f"query {name} ran out of memory (pass a larger --memory-limit): "
                              f"{str(exc).splitlines()[0][:200]}") from None
    except duckdb.Error as exc:  # e.g. a value the SQL cannot use (top=-1): one line, not a traceback
        raise BadInputError(f"query {name}: {explain_failure(exc)}") from None


def parse_params(name: str, items: list[str], run: str | None) -> tuple[dict[str, Any], str | None]:
    """``--param KEY=VALUE`` items checked against the named query: known keys only, each
    value of its declared type and range (``-- types:`` header), ``run=`` merged with ``--run``."""
    from cleann.store.queries import get_query

    query = get_query(name)
    params: dict[str, Any] = {}
    for item in items:
        key, sep, val = item.partition("=")
        key, val = key.strip(), val.strip()
        if not sep or not key:
            raise BadInputError(f"--param {_cut(item)}: use KEY=VALUE")
        if key not in query.parameters:
            takes = ", ".join(p for p in query.parameters) or "no parameters"
            raise BadInputError(f"--param {_cut(key)}: query {name} has no such parameter (it takes {takes})")
        if key in params:
            raise BadInputError(f"--param {_cut(key)} given twice")
        params[key] = query.check_param(key, val)  # its declared type and range (the query's header)
    if "run" in params:
        given = str(params.pop("run"))
        if run is not None and run != given:
            raise BadInputError(f"--run {_cut(run)} and --param run={_cut(given)} disagree; give the run once")
        run = given
    if run is not None:
        if "run" not in query.parameters:
            raise BadInputError(f"--run: query {name} is not about one run (it takes "
                                f"{', '.join(query.parameters) or 'no parameters'})")
        if not run.strip():
            raise BadInputError("--run: empty run id")
    return params, run


def _cut(text: str, limit: int = 60) -> str:
    text = " ".join(str(text).split())
    return repr(text if len(text) <= limit else text[:limit - 3] + "...")
