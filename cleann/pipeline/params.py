"""Run parameters: one frozen value object shared by the library, the flow and the CLI.

Why: the run id is a hash of the parameters that change results, so they must have one
canonical form. Execution knobs (limit, batch size, runner, staging dir) are kept apart:
changing them resumes the same run instead of starting a new one.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from cleann.errors import BadInputError

CORPUS_KINDS = ("imdb", "movielens")
LEARNERS = ("icd", "fci")
REMOVALS = ("pad", "mask", "delete")
RUNNERS = ("threads", "processes", "dask", "sequential")
SEARCHES = ("head", "sample")
# Fields added after runs existed: left out of the hashed JSON at their default so that
# the run ids of earlier parameter sets stay the same (resume keeps working).
_HASHED_ONLY_IF_SET = {"search": "head"}


@dataclass(frozen=True)
class ExplainParams:
    """What determines a run's results (hashed into the run id)."""

    corpus_kind: str = "imdb"
    corpus_name: str = "rt_snippets"
    split: str = "test"
    heads: str = "all"  # "all", "mean", or a comma list such as "0,3"
    nodes: str = "all"  # "all", "topk:K", "words"
    learner: str = "icd"
    alpha: float = 0.01
    num_samples: int | None = None  # N; None = the model's hidden size
    removal: str = "pad"
    max_set_size: int | None = None
    max_range: int | None = None
    max_cond_size: int | None = None
    max_length: int = 128
    legacy_negative_pcorr: bool = False
    search: str = "head"  # "head": every head to its own minimal size (reference); "sample": see search_trees_together

    def __post_init__(self) -> None:
        if self.corpus_kind not in CORPUS_KINDS:
            raise BadInputError(f"corpus kind {self.corpus_kind!r}: use one of {', '.join(CORPUS_KINDS)}")
        if self.learner not in LEARNERS:
            raise BadInputError(f"learner {self.learner!r}: use one of {', '.join(LEARNERS)}")
        if self.removal not in REMOVALS:
            raise BadInputError(f"removal {self.removal!r}: use one of {', '.join(REMOVALS)}")
        if not 0.0 < float(self.alpha) < 1.0:
            raise BadInputError(f"alpha {self.alpha!r} must lie strictly between 0 and 1")
        if self.search not in SEARCHES:
            raise BadInputError(f"search {self.search!r}: use one of {', '.join(SEARCHES)}")
        parse_nodes(self.nodes)
        parse_heads(self.heads)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys): the hashed form and the `runs.params` column."""
        data = {k: v for k, v in asdict(self).items() if _HASHED_ONLY_IF_SET.get(k, object()) != v}
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | dict[str, Any]) -> ExplainParams:
        data = json.loads(text) if isinstance(text, str) else dict(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_(self, **changes: Any) -> ExplainParams:
        return replace(self, **changes)


@dataclass(frozen=True)
class ExecParams:
    """How a run executes; not part of the run id."""

    limit: int | None = None
    batch_size: int = 8
    runner: str = "threads"
    dask_address: str | None = None
    workers: int | None = None
    staging_dir: str | None = None
    store_attention: bool = False

    def __post_init__(self) -> None:
        if self.runner not in RUNNERS:
            raise BadInputError(f"runner {self.runner!r}: use one of {', '.join(RUNNERS)}")
        if self.batch_size < 1:
            raise BadInputError(f"batch size {self.batch_size} must be at least 1")
        if self.limit is not None and self.limit < 0:
            raise BadInputError(f"limit {self.limit} must not be negative")


def parse_heads(spec: str) -> str | tuple[int, ...]:
    """``"all"`` / ``"mean"`` stay strings; ``"0,3"`` becomes ``(0, 3)``."""
    spec = str(spec).strip().lower()
    if spec in ("all", "mean"):
        return spec
    try:
        heads = tuple(sorted({int(h) for h in spec.split(",") if h.strip()}))
    except ValueError:
        raise BadInputError(f"heads {spec!r}: use 'all', 'mean' or a comma list of head indices") from None
    if not heads or heads[0] < 0:
        raise BadInputError(f"heads {spec!r}: use 'all', 'mean' or a comma list of head indices")
    return heads


def parse_nodes(spec: str) -> tuple[str, int | None]:
    """``"all"`` -> ("all", None); ``"topk:12"`` -> ("topk", 12); ``"words"`` -> ("words", None)."""
    spec = str(spec).strip().lower()
    if spec in ("all", "words"):
        return spec, None
    if spec.startswith("topk:"):
        try:
            k = int(spec.split(":", 1)[1])
        except ValueError:
            k = 0
        if k >= 1:
            return "topk", k
    raise BadInputError(f"node selection {spec!r}: use 'all', 'words' or 'topk:K' (K >= 1)")
