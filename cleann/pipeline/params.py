"""Run parameters, declared once, and everything generated from them.

Why one file: each parameter is a field of `ExplainParams` or `ExecParams` declared with
:func:`option` (flag, help, choices, bounds); from that one declaration come the CLI
options (`cleann explain|serve|evaluate|retry`, :func:`add_options`), validation
(:func:`check_fields`), the flows' typed parameters, the canonical JSON and the run id
(:func:`run_id_for`: that JSON hashed with the model's sha256, so the same parameters on
the same model resume the same run and a retrained model gets a new one). Adding a
parameter touches one place: a field here. Execution knobs (limit, batch size, runner,
model and database paths) live in :class:`ExecParams`: changing them resumes the same
run. No Prefect import here: running a flow is the CLI handlers' business (cleann/cli/).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from cleann.errors import ArtifactError, BadInputError, shorten
from cleann.sources.artifacts import sha256_file

CORPUS_KINDS = ("imdb", "movielens")
DEFAULT_CORPUS = {"imdb": "rt_snippets", "movielens": "ml-100k"}
SPLITS = {"imdb": ("train", "test", "all"), "movielens": ("test", "all")}
LEARNERS = ("icd", "fci")
REMOVALS = ("pad", "mask", "delete")
RUNNERS = ("threads", "processes", "dask", "sequential")
SEARCHES = ("head", "sample", "first")  # cleann.causal.multihead
DEFAULT_MAX_LENGTH = 128  # tokens per text, for explanations and `cleann model eval` alike

_UNSET: Any = object()


@dataclass(frozen=True)
class Option:
    """What a parameter means outside Python: its flag, help, allowed values and bounds.

    ``hash_omit_if``: a field added after runs existed is left out of the hashed JSON when
    it has this value (the behaviour before it existed), so earlier run ids stay valid.
    ``text_only``: the recommendation backend ignores the field, so for MovieLens runs it
    is set to this canonical value (and cannot split the run id).
    """

    help: str
    flag: str | None = None
    choices: tuple[str, ...] | Callable[[Any], tuple[str, ...]] | None = None
    ge: float | None = None
    gt: float | None = None
    lt: float | None = None
    parse: Callable[[Any], Any] | None = None
    cli: bool = True
    positional: bool = False
    hash_omit_if: Any = _UNSET
    text_only: Any = _UNSET


def option(default: Any, help: str, **meta: Any) -> Any:
    """A dataclass field whose metadata is an :class:`Option` (see there for ``meta``)."""
    return field(default=default, metadata={"option": Option(help, **meta)})


def option_of(f) -> Option:
    """The field's Option (fields declared without :func:`option` get a plain one)."""
    return f.metadata.get("option") or Option(help="")


def flag_of(f) -> str:
    opt = option_of(f)
    return opt.flag or (f.name if opt.positional else "--" + f.name.replace("_", "-"))


@lru_cache(maxsize=None)
def field_types(cls: type) -> dict[str, tuple[type, bool]]:
    """name -> (base type, None allowed) from the annotations."""
    out = {}
    for name, hint in get_type_hints(cls).items():
        args = get_args(hint) if get_origin(hint) in (Union, type(int | None)) else (hint,)
        base = [a for a in args if a is not type(None)]
        out[name] = (base[0] if len(base) == 1 else object, type(None) in args)
    return out


def check_fields(obj: Any) -> None:
    """Validate every field of ``obj`` against its type and Option: one BadInputError line."""
    types = field_types(type(obj))
    for f in fields(obj):
        value, opt = getattr(obj, f.name), option_of(f)
        base, nullable = types[f.name]
        name = flag_of(f)
        if value is None:
            if not nullable:
                raise BadInputError(f"{name}: a value is required")
            continue
        if base is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise BadInputError(f"{name} {shorten(value)!r}: use a whole number")
        if base is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise BadInputError(f"{name} {shorten(value)!r}: use a number")
        if base is float and not math.isfinite(value):  # nan passes every bound test below
            raise BadInputError(f"{name} {value!r}: use a finite number")
        if base is bool and not isinstance(value, bool):
            raise BadInputError(f"{name} {shorten(value)!r}: use true or false")
        if base is str and not isinstance(value, str):
            raise BadInputError(f"{name} {shorten(value)!r}: use text")
        choices = opt.choices(obj) if callable(opt.choices) else opt.choices
        if choices is not None and value not in choices:
            raise BadInputError(f"{name} {shorten(value)!r}: use one of {', '.join(choices)}")
        if opt.ge is not None and value < opt.ge:
            raise BadInputError(f"{name} {value!r}: must be at least {opt.ge:g}")
        if opt.gt is not None and value <= opt.gt:
            raise BadInputError(f"{name} {value!r}: must be greater than {opt.gt:g}")
        if opt.lt is not None and value >= opt.lt:
            raise BadInputError(f"{name} {value!r}: must be less than {opt.lt:g}")
        if opt.parse is not None:
            opt.parse(value)


T = TypeVar("T")


def from_mapping(cls: type[T], data: Mapping[str, Any]) -> T:
    """An instance of ``cls`` from the keys of ``data`` that are its fields (others ignored)."""
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class ExplainParams:
    """What determines a run's results (hashed into the run id)."""

    corpus_kind: str = option("imdb", "text corpus (imdb-style) or MovieLens", choices=CORPUS_KINDS,
                              positional=True, flag="kind")
    corpus_name: str | None = option(
        None, "corpus name in the database (default rt_snippets / ml-100k; offline corpora are ingested "
              "on first use)")
    split: str = option("test", "split to explain (text: train|test|all; MovieLens: test = hold out each "
                                "user's last item, all)", choices=lambda p: SPLITS[p.corpus_kind])
    heads: str = option("all", "all | mean | comma list of head indices such as 0,3", parse=lambda v: parse_heads(v))
    nodes: str = option("all", "all | words | topk:K", parse=lambda v: parse_nodes(v))
    learner: str = option("icd", "graph learner", choices=LEARNERS)
    alpha: float = option(0.01, "significance level of the Fisher-z test", gt=0.0, lt=1.0)
    num_samples: int | None = option(None, "N of the Fisher-z test (default: the model's hidden size)", ge=4)
    removal: str = option("pad", "how the tester removes tokens (text only)", choices=REMOVALS, text_only="pad")
    max_set_size: int | None = option(3, "largest explanation size searched (why 3: docs/engine.md "
                                         "'Defaults')", ge=1)
    max_range: int | None = option(None, "PDS-tree radius", ge=1)
    max_cond_size: int | None = option(None, "ICD conditioning-set cap", ge=0)
    max_length: int = option(DEFAULT_MAX_LENGTH, "token limit per text (text only)", ge=3,
                             text_only=DEFAULT_MAX_LENGTH)
    legacy_negative_pcorr: bool = option(False, "reproduce the reference's sign handling of negative partial "
                                                "correlations in the Fisher-z test")
    search: str = option("first", "first: first hit over all heads (corpus default); head: every head to its "
                                  "own minimal size (the reference); sample: see cleann.causal.multihead",
                         choices=SEARCHES, hash_omit_if="head")
    max_model_rows: int | None = option(2000, "model rows per sample before it is stored as status 'budget'",
                                        ge=1, hash_omit_if=None)
    stop_ratio: float | None = option(0.35, "first-hit stop rule (text): before size 3, stop (status 'budget') "
                                           "when no removal so far brought the prediction's lead below this "
                                           "fraction of its original lead (why 0.35: docs/engine.md)", ge=0.0,
                                      hash_omit_if=None, text_only=None)

    def __post_init__(self) -> None:
        if not isinstance(self.heads, str):
            object.__setattr__(self, "heads", str(self.heads))
        if self.corpus_kind in DEFAULT_CORPUS and self.corpus_name is None:
            object.__setattr__(self, "corpus_name", DEFAULT_CORPUS[self.corpus_kind])
        if self.corpus_kind != "imdb":
            for f in fields(self):
                if option_of(f).text_only is not _UNSET:
                    object.__setattr__(self, f.name, option_of(f).text_only)
        if self.search != "first":  # the stop rule belongs to the first-hit search: elsewhere it changes nothing
            object.__setattr__(self, "stop_ratio", None)
        check_fields(self)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys): the hashed form and the `runs.params` column."""
        omit = {f.name: option_of(f).hash_omit_if for f in fields(self)}
        data = {k: v for k, v in asdict(self).items() if omit[k] is _UNSET or omit[k] != v}
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | Mapping[str, Any]) -> ExplainParams:
        """Parameters from `runs.params`; a field left out of the hash reads as its omitted value."""
        data = json.loads(text) if isinstance(text, str) else dict(text)
        for f in fields(cls):
            if f.name not in data and option_of(f).hash_omit_if is not _UNSET:
                data[f.name] = option_of(f).hash_omit_if
        return from_mapping(cls, data)

    def with_(self, **changes: Any) -> ExplainParams:
        return replace(self, **changes)


@dataclass(frozen=True)
class ExecParams:
    """Where and how a run executes; not part of the run id (the model enters it by its sha256)."""

    limit: int | None = option(None, "explain the first N samples of the split (by id)", ge=1)
    batch_size: int = option(8, "samples per task", ge=1)
    runner: str = option("threads", "task runner", choices=RUNNERS)
    dask_address: str | None = option(None, "Dask scheduler address such as tcp://host:8786 (default: a "
                                            "LocalCluster)", parse=lambda v: parse_dask_address(v))
    workers: int | None = option(None, "parallel workers (default: CPU cores)", ge=1)
    staging_dir: str | None = option(None, "staging folder or fsspec URL (default <db>.staging)",
                                     parse=lambda v: _staging_url(v))
    store_attention: bool = option(False, "also keep each sample's attention as "
                                          "<staging>/<run_id>/attention/<sample_id>.npz")
    model: str | None = option(None, "checkpoint folder (default: the embedded default model, trained once)")
    db: str | None = option(None, "DuckDB file (default $CLEANN_DB or ./cleann.duckdb)")
    retry_failed: bool = option(False, "re-run only the failed samples (set by `cleann retry`)", cli=False)
    device: str = option("cpu", "where inference, the tester and the baselines run (auto: cuda when "
                                "available)", choices=("auto", "cpu", "cuda"))

    def __post_init__(self) -> None:
        check_fields(self)

    def with_(self, **changes: Any) -> ExecParams:
        return replace(self, **changes)


def params_from_kwargs(kwargs: Mapping[str, Any]) -> tuple[ExplainParams, ExecParams]:
    """Both parameter objects from one flat mapping (flow-style keywords, a parsed CLI)."""
    return from_mapping(ExplainParams, kwargs), from_mapping(ExecParams, kwargs)


def parse_heads(spec: str) -> str | tuple[int, ...]:
    """``"all"`` / ``"mean"`` stay strings; ``"0,3"`` becomes ``(0, 3)``."""
    spec = str(spec).strip().lower()
    if spec in ("all", "mean"):
        return spec
    usage = f"--heads {shorten(spec)!r}: use 'all', 'mean' or a comma list of head indices such as 0,3"
    items = [h.strip() for h in spec.split(",")]
    if any(not h for h in items):  # "0,,3" or "0,": refused, not read as "0,3" (another run id)
        raise BadInputError(f"{usage} (an empty item)")
    if any(not (h.isascii() and h.isdigit()) or len(h) > 6 for h in items):
        raise BadInputError(usage)
    numbers = [int(h) for h in items]
    if len(set(numbers)) != len(numbers):
        raise BadInputError(f"{usage} (a head given twice)")
    return tuple(sorted(numbers))


def parse_nodes(spec: str) -> tuple[str, int | None]:
    """``"all"`` -> ("all", None); ``"topk:12"`` -> ("topk", 12); ``"words"`` -> ("words", None)."""
    spec = str(spec).strip().lower()
    if spec in ("all", "words"):
        return spec, None
    if spec.startswith("topk:"):
        digits = spec.split(":", 1)[1].strip()
        k = int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 9 else 0
        if 1 <= k <= MAX_TOPK:
            return "topk", k
    raise BadInputError(f"--nodes {shorten(spec)!r}: use 'all', 'words' or 'topk:K' (K from 1 to {MAX_TOPK})")


MAX_TOPK = 4096  # more positions than any supported model has (MiniLM/BERT 512, BERT4Rec 200)
_DASK_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})/?$")


def parse_dask_address(address: str) -> tuple[str, str, int | None]:
    """``tcp://host:8786`` (or ``host:8786``; tls, ws, wss alike) -> (scheme, host, port);
    ucx/inproc addresses are passed on unchecked (port None). Syntax only: whether the
    scheduler answers is checked before a run starts (``explain.check_inputs``)."""
    text = str(address).strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    usage = f"--dask-address {shorten(text, 80)!r}: use a scheduler address such as tcp://127.0.0.1:8786"
    if scheme not in _DASK_SCHEMES:
        raise BadInputError(f"{usage} (protocol one of {', '.join(_DASK_SCHEMES)})")
    if scheme in ("ucx", "inproc"):
        if not rest:
            raise BadInputError(usage)
        return scheme, rest, None
    match = _HOST_PORT.match(rest)
    if not match or not 1 <= int(match.group(2)) <= 65535:
        raise BadInputError(usage)
    return scheme, match.group(1).strip("[]"), int(match.group(2))


def _staging_url(root: str) -> str:
    from cleann.reach import check_staging_url

    return check_staging_url(root)


# --- CLI options: a view of the fields. Options default to "not given" (SUPPRESS) so the
# dataclasses' own defaults apply and their checks run (one BadInputError line, exit 2).


def add_options(parser: argparse.ArgumentParser, cls: type, *, skip: tuple[str, ...] = (),
                title: str | None = None) -> None:
    """One argparse option per field of dataclass ``cls`` (positional where its Option says so)."""
    target = parser.add_argument_group(title) if title else parser
    types = field_types(cls)
    for f in fields(cls):
        opt = option_of(f)
        if not opt.cli or f.name in skip:
            continue
        base, nullable = types[f.name]
        choices = None if callable(opt.choices) else opt.choices
        text = opt.help + ("" if f.default in (None, False) or opt.positional else f" (default {f.default})")
        kw: dict[str, Any] = {"help": text}
        if base is bool:
            kw["action"] = "store_true"
        else:
            kw["type"] = base if base in (int, float) else str
            if nullable and base in (int, float) and f.default is not None:
                kw["type"] = _number_or_none(base)  # "none" switches a default limit off
                text += "; 'none' for no limit"
                kw["help"] = text
            if choices:
                kw["metavar"] = "{" + ",".join(choices) + "}"
        if opt.positional:
            target.add_argument(f.name, **kw)
        else:
            target.add_argument(flag_of(f), dest=f.name, default=argparse.SUPPRESS, **kw)


def _number_or_none(base: type) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        return None if str(value).strip().lower() in ("none", "off") else base(value)

    parse.__name__ = base.__name__  # argparse names the type in its error line
    return parse


def add_explain_options(p: argparse.ArgumentParser, with_kind: bool = True) -> None:
    """Every ExplainParams and ExecParams option (without the positional kind if asked)."""
    add_options(p, ExplainParams, skip=() if with_kind else ("corpus_kind",))
    add_options(p, ExecParams, title="execution (not part of the run id)")


def params_from_args(args: argparse.Namespace, **overrides: Any) -> tuple[ExplainParams, ExecParams]:
    """The validated parameter objects for parsed options (BadInputError on a mistake).

    A text-only option given for MovieLens is refused, not silently replaced by its
    canonical value (options not given are absent from ``args``: SUPPRESS)."""
    given = {**vars(args), **overrides}
    kind = given.get("corpus_kind")
    if kind in CORPUS_KINDS and kind != "imdb":
        for f in fields(ExplainParams):
            if option_of(f).text_only is not _UNSET and f.name in vars(args):
                raise BadInputError(f"{flag_of(f)}: only for text corpora (imdb); {kind} does not use it")
    return params_from_kwargs(given)


# --- Run identity: model fingerprint, code version and the deterministic run id.

WEIGHT_SUFFIXES = (".safetensors", ".json", ".txt")


@lru_cache(maxsize=32)
def _cached_sha(path: str, mtime_ns: int, size: int) -> str:
    return sha256_file(Path(path))


def model_sha256(model_path: str | Path) -> str:
    """sha256 of a checkpoint: the file itself, or for a folder a hash over its weight,
    config and vocabulary files (name + content hash, sorted)."""
    path = Path(model_path)
    if path.is_file():
        st = path.stat()
        return _cached_sha(str(path.resolve()), st.st_mtime_ns, st.st_size)
    if not path.is_dir():
        raise ArtifactError(f"model {model_path}: no such checkpoint file or folder")
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if not any(p.suffix == ".safetensors" for p in files):
        raise ArtifactError(f"model {model_path}: folder has no .safetensors weights")
    digest = hashlib.sha256()
    for p in files:
        st = p.stat()
        digest.update(f"{p.name}\0{_cached_sha(str(p.resolve()), st.st_mtime_ns, st.st_size)}\n".encode())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """The installed package version, plus the commit of cleann's own source tree when it
    runs from a git checkout: ``cleann 0.1.0 (git 0123456789ab)``.

    Why no git command: ``git describe --dirty`` refreshes the index and takes
    ``.git/index.lock``, which can break a concurrent git command of the user (issue 22).
    The commit is read from the files under ``.git`` (no lock), and only for the folder
    that holds this package's own pyproject.toml, never the working directory."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = f"cleann {version('cleann')}"
    except PackageNotFoundError:
        text = "cleann unknown"
    commit = source_commit(Path(__file__).resolve().parents[2])
    return f"{text} (git {commit[:12]})" if commit else text


_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def source_commit(root: Path) -> str | None:
    """The commit checked out in ``root`` when ``root`` is cleann's own checkout (its
    pyproject.toml names the project cleann), read from ``.git`` without running git;
    None otherwise (an installed wheel, another project, an unreadable ref)."""
    try:
        project = (root / "pyproject.toml").read_text(encoding="utf-8", errors="replace")
        if not re.search(r'^name\s*=\s*"cleann"\s*$', project, flags=re.MULTILINE):
            return None
        git = root / ".git"
        if git.is_file():  # a worktree or submodule: "gitdir: <path>"
            line = git.read_text(encoding="utf-8").strip()
            if not line.startswith("gitdir:"):
                return None
            git = (root / line.split(":", 1)[1].strip()).resolve()
        common = git
        if (git / "commondir").is_file():
            common = (git / (git / "commondir").read_text(encoding="utf-8").strip()).resolve()
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref:"):
            return head if _SHA.match(head) else None
        ref = head.split(":", 1)[1].strip()
        for folder in (git, common):
            if (folder / ref).is_file():
                sha = (folder / ref).read_text(encoding="utf-8").strip()
                return sha if _SHA.match(sha) else None
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                sha, _, name = line.partition(" ")
                if name.strip() == ref and _SHA.match(sha):
                    return sha
    except (OSError, ValueError):
        return None
    return None


def run_id_for(params: ExplainParams, model_sha: str) -> str:
    """16 hex digits of sha256(params JSON, model sha256); the corpus is inside params."""
    payload = f"{params.to_json()}\n{model_sha}".encode()
    return hashlib.sha256(payload).hexdigest()[:16]
