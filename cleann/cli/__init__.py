"""`cleann` command line: discovers one module per command group in this package.

Why: each command group lives in its own small module (``cleann/cli/<name>.py``) exposing
``register(subparsers)``; handlers only parse arguments and call the library or a flow.
Modules whose name starts with ``_`` are helpers, not commands.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from cleann.errors import CleannError
from cleann.prefect_env import configure_prefect_env


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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


def main(argv: list[str] | None = None) -> int:
    configure_prefect_env()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except CleannError as exc:
        print(f"cleann: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cleann: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
