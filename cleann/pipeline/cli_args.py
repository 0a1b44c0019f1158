"""CLI options generated from the parameter dataclasses, for `explain`, `serve`, `evaluate`.

Why generated: each parameter is declared once, as a field of `ExplainParams` or
`ExecParams` (cleann/pipeline/params.py) with its flag, help, choices and bounds; the
options here are a view of those fields. Options default to "not given" so the
dataclasses' own defaults apply, and values are checked by the dataclasses (one
BadInputError line, exit 2) before any orchestration starts. No Prefect import here:
running a flow is the CLI handlers' business (cleann/cli/).
"""
from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Any

from cleann.pipeline.params import ExecParams, ExplainParams, field_types, flag_of, option_of, params_from_kwargs

FORMATS = ("table", "csv", "json")


def add_options(parser: argparse.ArgumentParser, cls: type, *, skip: tuple[str, ...] = (),
                title: str | None = None) -> None:
    """One argparse option per field of dataclass ``cls`` (positional where its Option says so)."""
    target = parser.add_argument_group(title) if title else parser
    types = field_types(cls)
    for f in fields(cls):
        opt = option_of(f)
        if not opt.cli or f.name in skip:
            continue
        base, _ = types[f.name]
        choices = None if callable(opt.choices) else opt.choices
        text = opt.help + ("" if f.default in (None, False) or opt.positional else f" (default {f.default})")
        kw: dict[str, Any] = {"help": text}
        if base is bool:
            kw["action"] = "store_true"
        else:
            kw["type"] = base if base in (int, float) else str
            if choices:
                kw["metavar"] = "{" + ",".join(choices) + "}"
        if opt.positional:
            target.add_argument(f.name, **kw)
        else:
            target.add_argument(flag_of(f), dest=f.name, default=argparse.SUPPRESS, **kw)


def add_explain_options(p: argparse.ArgumentParser, with_kind: bool = True) -> None:
    """Every ExplainParams and ExecParams option (without the positional kind if asked)."""
    add_options(p, ExplainParams, skip=() if with_kind else ("corpus_kind",))
    add_options(p, ExecParams, title="execution (not part of the run id)")


def add_format_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="table (for people), csv or json (for scripts) (default table)")


def params_from_args(args: argparse.Namespace, **overrides: Any) -> tuple[ExplainParams, ExecParams]:
    """The validated parameter objects for parsed options (BadInputError on a mistake)."""
    return params_from_kwargs({**vars(args), **overrides})
