"""The explain job's steps: prepare, plan, work (one batch), finish; and a local driver.

Why these steps: they are the staged job of :mod:`cleann.pipeline.job`. The Prefect flow
``explain_corpus`` calls each as a task; :func:`run_local` (tests, ``--no-prefect``,
benchmarks) calls them in this process. Only ``prepare`` (an offline corpus's first
ingest), ``plan``, ``load`` and ``finish`` open the database, each for a moment;
``work`` touches only the staging folder.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

from cleann.config import default_db_path
from cleann.pipeline.corpus import ensure_corpus, select_samples
from cleann.pipeline.params import model_sha256, run_id_for
from cleann.pipeline.job import JobPlan, StagedJob, TablePolicy, load_staged, run_local as run_job_local
from cleann.pipeline.params import ExecParams, ExplainParams
from cleann.store.runs import Staging, batch_id_for, default_staging_root, finish_run, open_db, register_run

# Tables an explain batch writes, keyed by (run_id, sample_id); order = insert order.
EXPLAIN_TABLES = TablePolicy(("samples", "tokens", "graph_edges", "explanations", "explain_heads"))
RunPlan = JobPlan  # the explain job's plan (name kept for callers)


def model_path_for(params: ExplainParams, execution: ExecParams) -> str:
    """The checkpoint to use: the given one, or the default model (trained once, then reused)."""
    if execution.model:
        return str(execution.model)
    from cleann.models import default

    if params.corpus_kind == "imdb":
        return str(default.ensure_default_sentiment())
    return str(default.ensure_default_bert4rec())


def check_inputs(params: ExplainParams, execution: ExecParams) -> None:
    """What can be checked before anything starts (one BadInputError line each): the
    database folder, the corpus name, and a given (or already trained default) checkpoint:
    its kind and that every requested head exists."""
    import json

    from cleann.errors import ArtifactError, BadInputError
    from cleann.pipeline.corpus import check_corpus
    from cleann.pipeline.params import parse_heads

    from cleann.models.device import resolve_device

    resolve_device(execution.device)  # --device cuda without a GPU: one line, before anything starts
    db = Path(execution.db) if execution.db else default_db_path()
    if not db.parent.is_dir():
        raise BadInputError(f"--db {db}: folder {db.parent} does not exist")
    if db.is_dir():
        raise BadInputError(f"--db {db}: is a folder, not a database file")
    check_corpus(db, params)
    if execution.model:
        folder = Path(execution.model)
    else:
        from cleann.models import default

        folder = default.default_sentiment_dir() if params.corpus_kind == "imdb" else default.default_bert4rec_dir()
        if not default.is_complete(folder):
            return  # trained on first use by `prepare`
    if not folder.exists():
        raise ArtifactError(f"--model {folder}: no such checkpoint file or folder")
    if folder.is_dir():
        is_rec = (folder / "bert4rec.json").is_file()
        if is_rec != (params.corpus_kind == "movielens"):
            what = "a BERT4Rec" if is_rec else "a text classifier"
            raise BadInputError(f"--model {folder}: is {what} checkpoint, not one for {params.corpus_kind}")
        heads = parse_heads(params.heads)
        config = folder / "config.json"
        if isinstance(heads, tuple) and config.is_file():
            n = json.loads(config.read_text()).get("num_attention_heads")
            if isinstance(n, int) and heads[-1] >= n:
                raise BadInputError(f"--heads {params.heads}: the model has {n} heads (0..{n - 1})")


def known_run_id(params: ExplainParams, execution: ExecParams) -> str | None:
    """The run id, when the checkpoint exists already (never trains a default model)."""
    from cleann.models import default

    if execution.model:
        folder = Path(execution.model)
    else:
        folder = default.default_sentiment_dir() if params.corpus_kind == "imdb" else default.default_bert4rec_dir()
    try:
        return run_id_for(params, model_sha256(folder))
    except Exception:  # noqa: BLE001 - no checkpoint yet: no run was registered either
        return None


def prepare(params: ExplainParams, execution: ExecParams) -> str:
    """Fetch what the run needs before it is planned: the model and the corpus. Returns the model path."""
    model = model_path_for(params, execution)
    model_sha256(model)  # a missing or weightless checkpoint is an ArtifactError now, not in a worker
    ensure_corpus(execution.db, params)
    return model


def plan_run(
    params: ExplainParams,
    exec_params: ExecParams,
    model_path: str | Path,
    db_path: str | Path | None = None,
    *,
    retry_failed: bool = False,
    flow_run_id: str | None = None,
) -> JobPlan:
    """Register the run, load staged leftovers, and stage the pending samples as batches."""
    db_path = str(db_path or exec_params.db or default_db_path())
    model_sha = model_sha256(model_path)
    run_id = run_id_for(params, model_sha)
    root = exec_params.staging_dir or default_staging_root(db_path)
    staging = Staging(root, run_id)
    recovered = load_staged(db_path, staging, EXPLAIN_TABLES).samples  # a killed run's staged batches
    staging.clear_unfinished()
    with open_db(db_path) as con:
        register_run(con, run_id, params, str(model_path), model_sha, flow_run_id)
        pending = select_samples(con, run_id, params, exec_params.limit,
                                 retry_failed=retry_failed or exec_params.retry_failed)
    batch_ids = []
    for start in range(0, len(pending), exec_params.batch_size):
        chunk = pending.iloc[start:start + exec_params.batch_size]
        batch_id = batch_id_for(chunk["sample_id"])
        staging.write_input(batch_id, chunk)
        batch_ids.append(batch_id)
    return JobPlan("explain", run_id, db_path, root, str(model_path), params.to_json(), tuple(batch_ids),
                   len(pending), recovered, options={"store_attention": exec_params.store_attention,
                                                    "device": exec_params.device})


def work(plan: JobPlan, batch_id: str, explainer: Callable | None = None) -> str:
    """Explain one staged batch into staged files; returns the manifest path."""
    from cleann.pipeline.batch import process_batch

    return process_batch(plan.staging, batch_id, plan.params, plan.model_path, explainer=explainer,
                         store_attention=bool(plan.options.get("store_attention")),
                         device=str(plan.options.get("device", "cpu")))


@dataclass
class RunSummary:
    run_id: str
    status: str
    selected: int
    processed_now: int
    done: int
    failed: int
    seconds: float
    samples_per_s: float
    failed_batches: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def finish(plan: JobPlan, failed_batches: int = 0, started: float | None = None) -> dict:
    """Load anything still staged, set the run status, count rows; the summary as a dict."""
    load_staged(plan.db_path, plan.staging, EXPLAIN_TABLES)
    plan.staging.release_owner()  # this invocation is done with the staging folder (issue 12 item 9)
    with open_db(plan.db_path) as con:
        status = finish_run(con, plan.run_id, incomplete=failed_batches)
        done, failed = con.execute(
            "SELECT count(*) FILTER (WHERE status = 'ok'), count(*) FILTER (WHERE status = 'failed') "
            "FROM samples WHERE run_id = ?", [plan.run_id]).fetchall()[0]
    seconds = time.perf_counter() - started if started is not None else 0.0
    processed = plan.n_pending
    return RunSummary(plan.run_id, status, int(done) + int(failed), processed, int(done), int(failed), seconds,
                      processed / seconds if seconds > 0 and processed else 0.0, failed_batches).as_dict()


EXPLAIN_JOB = StagedJob("explain", EXPLAIN_TABLES, work, finish)


def run_local(
    params: ExplainParams,
    exec_params: ExecParams,
    model_path: str | Path | None = None,
    db_path: str | Path | None = None,
    *,
    retry_failed: bool = False,
    explainer: Callable | None = None,
    on_batch: Callable[[str, int], None] | None = None,
) -> RunSummary:
    """The whole explain job in this process (no Prefect): prepare, plan, work + load per batch, finish."""
    from cleann.store.runs import failure_marks_run

    started = time.perf_counter()
    execution = replace(exec_params, model=str(model_path) if model_path else exec_params.model,
                        db=str(db_path) if db_path else exec_params.db)
    model = prepare(params, execution)
    plan = plan_run(params, execution, model, execution.db, retry_failed=retry_failed)
    with failure_marks_run(plan.db_path, plan.run_id):
        result = run_job_local(plan, on_batch, started, work=partial(work, explainer=explainer))
    return RunSummary(**result)
