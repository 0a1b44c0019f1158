"""`cleann` command line: discovers one module per command group in this package.

Why: each command group lives in its own small module (``cleann/cli/<name>.py``) exposing
``register(subparsers)``; handlers only parse arguments and call the library or a flow.
Modules whose name starts with ``_`` are helpers, not commands.

User mistakes end as one line on stderr and exit code 2: a ``CleannError`` raised by a
handler, by a flow (Prefect re-raises the flow's exception; a wrapped one is unwrapped),
and argparse usage errors alike (an error class may name another code: a query stopped by
its limit exits 1). Other exceptions are bugs and keep their traceback. Exit codes:
``cleann/cli/_exit.py``.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from cleann.cli import _exit as exit_codes
from cleann.errors import CleannError, one_line
from cleann.prefect_env import configure_prefect_env


class CleannArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line usage error (argparse prints the whole usage block)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"cleann: error: {self.prog}: {one_line(message)} "
                     f"(see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = CleannArgumentParser(
        prog="cleann",
        description="Causal explanations (CLEANN) of transformer decisions across corpora.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(sub)
    return parser


def user_error(exc: BaseException, depth: int = 0) -> CleannError | None:
    """The ``CleannError`` behind ``exc``: itself, or one wrapped by Prefect (cause,
    context or exception group of a ``prefect.*`` exception); None for anything else."""
    if isinstance(exc, CleannError):
        return exc
    if depth > 8:
        return None
    wrapped: list[BaseException] = []
    if isinstance(exc, BaseExceptionGroup):
        wrapped.extend(exc.exceptions)
    if type(exc).__module__.split(".")[0] == "prefect":
        wrapped.extend(e for e in (exc.__cause__, exc.__context__) if e is not None)
    for inner in wrapped:
        found = user_error(inner, depth + 1)
        if found is not None:
            return found
    return None


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # also while starting up (imports, building the parser)
        print("cleann: interrupted", file=sys.stderr)
        return exit_codes.INTERRUPTED


def _main(argv: list[str] | None) -> int:
    configure_prefect_env()
    from cleann.cli._prefect_logging import install_logging_settings

    install_logging_settings()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except Exception as exc:
        error = user_error(exc)
        if error is None:
            raise
        print(f"cleann: error: {one_line(str(error))}", file=sys.stderr)
        return int(getattr(error, "exit_code", exit_codes.USER_ERROR))  # a limit hit (sql --timeout): 1
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
