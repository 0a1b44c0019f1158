"""The explain job's steps: prepare, plan, work (one batch), finish; and a local driver.

Why one module: these are the staged job of :mod:`cleann.pipeline.job` for ``explain``,
in the order they run. The Prefect flow ``explain_corpus`` calls each as a task;
:func:`run_local` (tests, ``--no-prefect``, benchmarks) calls them in this process. Only
``prepare`` (an offline corpus's first ingest), ``plan``, ``load`` and ``finish`` open the
database, each for a moment; ``work`` (:mod:`cleann.pipeline.batch`) touches only the
staging folder.

- prepare: the model (the given checkpoint, or the default one, trained once) and the
  corpus (a known offline corpus is fetched without holding the database, then ingested
  in one short write on first use).
- plan: register the run, load a killed run's staged batches, select the pending samples
  and stage them as batches. Which samples: ``--limit N`` names "the first N samples of
  the split" (by id), so re-running with the same limit selects nothing new and a larger
  limit extends the same run; samples already in `samples` for this run are skipped
  (failed ones too, unless retrying, which selects only the failed ones). Text corpora:
  rows of `documents` (sample_id = doc_id). MovieLens: one sample per user of
  `interactions` (sample_id = user id); the history is the user's items by time; for
  ``split='test'`` the last item is held out as the label (the next item to predict).
- work: :func:`cleann.pipeline.batch.process_batch` on one staged batch.
- finish: load leftovers, set the run status, count rows (:class:`RunSummary`).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from cleann.config import default_db_path
from cleann.errors import BadInputError, shorten
from cleann.pipeline.job import JobPlan, StagedJob, TablePolicy, load_staged, run_local as run_job_local
from cleann.pipeline.params import ExecParams, ExplainParams, model_sha256, run_id_for
from cleann.store.runs import Staging, batch_id_for, default_staging_root, finish_run, open_db, register_run

# Tables an explain batch writes, keyed by (run_id, sample_id); order = insert order.
EXPLAIN_TABLES = TablePolicy(("samples", "tokens", "graph_edges", "explanations", "explain_heads"))


# --- before anything starts: what can be checked without writing ----------------------

def check_inputs(params: ExplainParams, execution: ExecParams) -> None:
    """What can be checked before anything starts (one BadInputError line each): the
    database (folder, and a cleann database if the file exists), the staging location,
    the Dask scheduler, the corpus name, and a given (or already trained default)
    checkpoint: its kind, that every requested head exists and that --max-length fits
    its position embeddings."""
    import json

    from cleann.errors import ArtifactError
    from cleann.models.device import resolve_device
    from cleann.pipeline.params import parse_heads
    from cleann.store.db import check_database_file
    from cleann.reach import check_staging_root

    resolve_device(execution.device)  # --device cuda without a GPU: one line, before anything starts
    db = Path(execution.db) if execution.db else default_db_path()
    if not db.parent.is_dir():
        raise BadInputError(f"--db {db}: folder {db.parent} does not exist")
    if db.is_dir():
        raise BadInputError(f"--db {db}: is a folder, not a database file")
    check_database_file(db)  # someone else's DuckDB file: refused before anything is written
    if execution.staging_dir is not None:
        check_staging_root(execution.staging_dir)
    check_dask(execution)
    check_corpus(db, params)
    if execution.model:
        folder = Path(execution.model)
    else:
        from cleann.models import default

        folder = default.default_sentiment_dir() if params.corpus_kind == "imdb" else default.default_bert4rec_dir()
        if not default.is_complete(folder):
            check_max_length(params)  # the default text model: MiniLM, 512 positions
            return  # trained on first use by `prepare`
    if not folder.exists():
        raise ArtifactError(f"--model {folder}: no such checkpoint file or folder")
    if folder.is_dir():
        is_rec = (folder / "bert4rec.json").is_file()
        if is_rec != (params.corpus_kind == "movielens"):
            what = "a BERT4Rec" if is_rec else "a text classifier"
            raise BadInputError(f"--model {folder}: is {what} checkpoint, not one for {params.corpus_kind}")
        heads = parse_heads(params.heads)
        config_file = folder / "config.json"
        try:
            config = json.loads(config_file.read_text()) if config_file.is_file() else {}
        except (OSError, ValueError):
            config = {}  # a broken config is the model loader's error, with its own message
        n = config.get("num_attention_heads") if isinstance(config, dict) else None
        if isinstance(heads, tuple) and isinstance(n, int) and heads[-1] >= n:
            raise BadInputError(f"--heads {params.heads}: the model has {n} heads (0..{n - 1})")
        positions = config.get("max_position_embeddings") if isinstance(config, dict) else None
        if not is_rec and isinstance(positions, int):
            check_max_length(params, positions)


# Position embeddings of the default text model (MiniLM) and of BERT-style checkpoints.
DEFAULT_TEXT_POSITIONS = 512


def check_max_length(params: ExplainParams, positions: int = DEFAULT_TEXT_POSITIONS) -> None:
    """Refuse a --max-length the model cannot read: the run would record a value that was
    not used (the tokenizer cuts at the position embeddings). The default length is
    exempt (a small test model with fewer positions reads what it can)."""
    from cleann.pipeline.params import DEFAULT_MAX_LENGTH

    if params.corpus_kind == "imdb" and params.max_length != DEFAULT_MAX_LENGTH and params.max_length > positions:
        raise BadInputError(f"--max-length {params.max_length}: the model reads at most {positions} tokens "
                            f"(its position embeddings); use 3..{positions}")


DASK_CONNECT_TIMEOUT_S = 2.0


def check_dask(execution: ExecParams, timeout_s: float = DASK_CONNECT_TIMEOUT_S) -> None:
    """--dask-address only with --runner dask, and a scheduler that accepts a TCP
    connection within ``timeout_s`` (Dask itself waits 30 s and then raises a traceback)."""
    if execution.dask_address is None:
        return
    if execution.runner != "dask":
        raise BadInputError(f"--dask-address: only with --runner dask (the runner is {execution.runner})")
    from cleann.pipeline.params import parse_dask_address

    scheme, host, port = parse_dask_address(execution.dask_address)
    if port is None:
        return  # ucx / inproc: nothing to dial here
    from cleann.reach import tcp_problem

    problem = tcp_problem(host, port, timeout_s)
    if problem:
        raise BadInputError(f"--dask-address {shorten(execution.dask_address, 80)}: no Dask scheduler answers "
                            f"({problem}); start one with `dask scheduler` or leave the option out for a "
                            "LocalCluster")


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


# --- prepare: the model and the corpus, fetched before the database is held -----------

def model_path_for(params: ExplainParams, execution: ExecParams) -> str:
    """The checkpoint to use: the given one, or the default model (trained once, then reused)."""
    if execution.model:
        return str(execution.model)
    from cleann.models import default

    if params.corpus_kind == "imdb":
        return str(default.ensure_default_sentiment())
    return str(default.ensure_default_bert4rec())


OFFLINE_REC = ("ml-100k",)  # recommendation corpora fetched and ingested on first use


def corpus_rows(con: duckdb.DuckDBPyConnection, params: ExplainParams) -> int:
    """Rows of the run's corpus in the database (documents, or interactions for MovieLens)."""
    table = "documents" if params.corpus_kind == "imdb" else "interactions"
    return int(con.execute(f"SELECT count(*) FROM {table} WHERE corpus = ?", [params.corpus_name]).fetchall()[0][0])


def offline_names(kind: str) -> tuple[str, ...]:
    """Corpora that are fetched and ingested on first use."""
    if kind != "imdb":
        return OFFLINE_REC
    from cleann.sources.text import OFFLINE_CORPORA

    return tuple(OFFLINE_CORPORA)


def check_corpus(db_path: str | Path | None, params: ExplainParams) -> None:
    """Refuse an unknown corpus name before anything starts: it must be in the database
    or be a known offline corpus."""
    if params.corpus_name in offline_names(params.corpus_kind):
        return
    path = Path(db_path) if db_path else default_db_path()
    n = 0
    if path.exists():
        with open_db(path, read_only=True) as con:
            n = corpus_rows(con, params)
    if not n:
        table = "documents" if params.corpus_kind == "imdb" else "interactions"
        raise BadInputError(
            f"--corpus-name {shorten(params.corpus_name)!r}: no rows in table {table} of {path}; ingest it "
            f"first (`cleann ingest`), or use an offline corpus: {', '.join(offline_names(params.corpus_kind))}")


def ensure_corpus(db_path: str | Path | None, params: ExplainParams) -> int:
    """Rows of the run's corpus; a known offline corpus is fetched (without holding the
    database) and then ingested in one short write on first use."""
    with open_db(db_path) as con:
        n = corpus_rows(con, params)
    if n:
        return n
    check_corpus(db_path, params)
    from cleann.store.db import ingest_documents, ingest_movielens

    if params.corpus_kind == "imdb":
        from cleann.sources.text import load_offline

        frames, ingest = (load_offline(params.corpus_name),), ingest_documents
    else:
        from cleann.sources.movielens import load_offline_ml100k

        frames, ingest = load_offline_ml100k(), ingest_movielens
    with open_db(db_path) as con:
        if not corpus_rows(con, params):  # another invocation may have ingested meanwhile
            ingest(con, *frames)
        n = corpus_rows(con, params)
    if not n:
        raise BadInputError(f"corpus {params.corpus_name!r} has no rows after ingesting it")
    return n


def prepare(params: ExplainParams, execution: ExecParams) -> str:
    """Fetch what the run needs before it is planned: the model and the corpus. Returns the model path."""
    model = model_path_for(params, execution)
    model_sha256(model)  # a missing or weightless checkpoint is an ArtifactError now, not in a worker
    ensure_corpus(execution.db, params)
    return model


# --- plan: register the run, stage the pending samples --------------------------------

def select_samples(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    params: ExplainParams,
    limit: int | None,
    retry_failed: bool = False,
) -> pd.DataFrame:
    """Pending samples: ``sample_id``, ``label`` and ``text`` or ``history`` (list of item ids)."""
    if retry_failed:
        done_filter = "s.sample_id IN (SELECT sample_id FROM samples WHERE run_id = $run AND status = 'failed')"
    else:
        done_filter = "s.sample_id NOT IN (SELECT sample_id FROM samples WHERE run_id = $run)"
    lim = "" if limit is None else f"LIMIT {int(limit)}"
    args = {"run": run_id, "corpus": params.corpus_name}
    if params.corpus_kind == "imdb":
        args["split"] = params.split
        sql = f"""
            WITH s AS (SELECT doc_id AS sample_id, text, label FROM documents
                       WHERE corpus = $corpus AND (split = $split OR $split = 'all')
                       ORDER BY doc_id {lim})
            SELECT * FROM s WHERE {done_filter} ORDER BY sample_id"""
    else:
        hold_out = params.split == "test"
        sql = f"""
            WITH u AS (SELECT DISTINCT user_id FROM interactions WHERE corpus = $corpus
                       ORDER BY user_id {lim}),
            seq AS (SELECT i.user_id, list(i.item_id ORDER BY i.ts, i.item_id) AS items
                    FROM interactions i JOIN u USING (user_id) WHERE i.corpus = $corpus GROUP BY i.user_id),
            s AS (SELECT CAST(user_id AS VARCHAR) AS sample_id,
                         CASE WHEN {hold_out} THEN items[1:len(items) - 1] ELSE items END AS history,
                         CASE WHEN {hold_out} THEN items[len(items)] END AS label
                  FROM seq)
            SELECT * FROM s WHERE {done_filter} ORDER BY CAST(sample_id AS BIGINT)"""
    return con.execute(sql, args).df()


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
                                                    "device": exec_params.device,
                                                    "streams": concurrent_batches(exec_params)})


# --- work: one staged batch (cleann.pipeline.batch) -----------------------------------

def work(plan: JobPlan, batch_id: str, explainer: Callable | None = None) -> str:
    """Explain one staged batch into staged files; returns the manifest path."""
    from cleann.pipeline.batch import process_batch

    return process_batch(plan.staging, batch_id, plan.params, plan.model_path, explainer=explainer,
                         store_attention=bool(plan.options.get("store_attention")),
                         device=str(plan.options.get("device", "cpu")), streams=int(plan.options.get("streams", 1)))


def concurrent_batches(exec_params: ExecParams) -> int:
    """How many batches one worker process runs at once: the threads runner's worker count
    (they share the process's model copies), else one per process."""
    import os

    if exec_params.runner != "threads":
        return 1
    return exec_params.workers or max(1, os.cpu_count() or 1)


# --- finish: leftovers loaded, status, counts -----------------------------------------

@dataclass
class RunSummary:
    """What the explain job returns: the run's counts, and what this invocation processed and how fast."""

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


def summary_lines(summary: Mapping[str, Any]) -> list[str]:
    """A finished run's summary (:meth:`RunSummary.as_dict`) as lines for people: the CLI
    prints them, the flow logs them; failures point to the commands that show and retry them."""
    lines = [
        f"run {summary['run_id']}: {summary['status']}",
        f"  samples in run: {summary['done']} ok, {summary['failed']} failed; processed now: "
        f"{summary['processed_now']} in {summary['seconds']:.1f} s ({summary['samples_per_s']:.2f} samples/s)",
    ]
    if summary.get("failed_batches"):
        lines.append(f"  {summary['failed_batches']} batch(es) could not be processed; re-run to resume")
    if summary["failed"]:
        lines.append(f"  see `cleann query failures --run {summary['run_id']}`; "
                     f"`cleann retry {summary['run_id']}` re-runs them")
    return lines


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
