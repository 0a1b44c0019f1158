"""Plan a run, execute its batches, load them, summarise: the pipeline without Prefect.

Why split into plan / process / load / finish: the Prefect flow calls the same four
steps, mapping ``process`` over a task runner, while tests and the SIGKILL check can
drive them directly. Only ``plan``, ``load`` and ``finish`` open the database, each for
a moment; ``process`` touches only the staging folder.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from cleann.config import default_db_path
from cleann.pipeline.corpus import ensure_corpus, select_samples
from cleann.pipeline.dbopen import open_db
from cleann.pipeline.identity import model_sha256, run_id_for
from cleann.pipeline.loader import load_ready
from cleann.pipeline.params import ExecParams, ExplainParams
from cleann.pipeline.registry import finish_run, register_run
from cleann.pipeline.staging import Staging, batch_id_for, default_staging_root


@dataclass
class RunPlan:
    run_id: str
    db_path: str
    staging_root: str
    model_path: str
    params_json: str
    batch_ids: list[str]
    n_pending: int
    recovered: int  # samples loaded from a previous, killed invocation's staged batches

    @property
    def staging(self) -> Staging:
        return Staging(self.staging_root, self.run_id)

    @property
    def params(self) -> ExplainParams:
        return ExplainParams.from_json(self.params_json)


def resolve_run(params: ExplainParams, model_path: str | Path) -> str:
    """The run id these parameters and this model resolve to."""
    return run_id_for(params, model_sha256(model_path))


def plan_run(
    params: ExplainParams,
    exec_params: ExecParams,
    model_path: str | Path,
    db_path: str | Path | None = None,
    *,
    retry_failed: bool = False,
    flow_run_id: str | None = None,
) -> RunPlan:
    """Register the run, recover staged leftovers, and stage the pending samples as batches."""
    db_path = str(db_path or default_db_path())
    model_sha = model_sha256(model_path)
    run_id = run_id_for(params, model_sha)
    root = exec_params.staging_dir or default_staging_root(db_path)
    staging = Staging(root, run_id)
    recovered = load_ready(db_path, staging).samples  # batches a killed run staged but never loaded
    staging.clear_unfinished()
    with open_db(db_path) as con:
        ensure_corpus(con, params)
        register_run(con, run_id, params, str(model_path), model_sha, flow_run_id)
        pending = select_samples(con, run_id, params, exec_params.limit, retry_failed=retry_failed)
    batch_ids = []
    for start in range(0, len(pending), exec_params.batch_size):
        chunk = pending.iloc[start:start + exec_params.batch_size]
        batch_id = batch_id_for(chunk["sample_id"])
        staging.write_input(batch_id, chunk)
        batch_ids.append(batch_id)
    return RunPlan(run_id, db_path, root, str(model_path), params.to_json(), batch_ids, len(pending), recovered)


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


def finish(plan: RunPlan, started: float, failed_batches: int = 0) -> RunSummary:
    """Load anything still staged, set the run status, count rows."""
    load_ready(plan.db_path, plan.staging)
    with open_db(plan.db_path) as con:
        status = finish_run(con, plan.run_id, incomplete=failed_batches)
        done, failed = con.execute(
            "SELECT count(*) FILTER (WHERE status = 'ok'), count(*) FILTER (WHERE status = 'failed') "
            "FROM samples WHERE run_id = ?", [plan.run_id]).fetchall()[0]
    seconds = time.perf_counter() - started
    processed = plan.n_pending
    return RunSummary(plan.run_id, status, done + failed, processed, int(done), int(failed), seconds,
                      processed / seconds if seconds > 0 and processed else 0.0, failed_batches)


def run_local(
    params: ExplainParams,
    exec_params: ExecParams,
    model_path: str | Path,
    db_path: str | Path | None = None,
    *,
    retry_failed: bool = False,
    explainer: Callable | None = None,
    on_batch: Callable[[str, int], None] | None = None,
) -> RunSummary:
    """Sequential run in this process (no Prefect): plan, then process + load batch by batch."""
    from cleann.pipeline.stage import process_batch

    started = time.perf_counter()
    plan = plan_run(params, exec_params, model_path, db_path, retry_failed=retry_failed)
    for batch_id in plan.batch_ids:
        process_batch(plan.staging, batch_id, params, plan.model_path, explainer=explainer,
                      store_attention=exec_params.store_attention)
        load_ready(plan.db_path, plan.staging, on_batch=on_batch)
    return finish(plan, started)


def params_from_kwargs(kwargs: dict) -> tuple[ExplainParams, ExecParams, str]:
    """(params, exec params, model path) from `explain_corpus`-style keyword arguments."""
    from cleann.pipeline.defaults import default_corpus_name, default_model_path

    kind = kwargs.get("corpus_kind", "imdb")
    fields = {k: kwargs[k] for k in ("split", "heads", "nodes", "learner", "alpha", "num_samples", "removal",
                                      "max_set_size", "max_range", "max_cond_size", "max_length",
                                      "legacy_negative_pcorr", "search") if kwargs.get(k) is not None}
    params = ExplainParams(corpus_kind=kind, corpus_name=kwargs.get("corpus_name") or default_corpus_name(kind),
                           **{k: (str(v) if k == "heads" else v) for k, v in fields.items()})
    exec_params = ExecParams(limit=kwargs.get("limit"), batch_size=kwargs.get("batch_size") or 8,
                             runner=kwargs.get("runner") or "threads", dask_address=kwargs.get("dask_address"),
                             workers=kwargs.get("workers"), staging_dir=kwargs.get("staging_dir"),
                             store_attention=bool(kwargs.get("store_attention")))
    model = kwargs.get("model") or str(default_model_path(kind))
    return params, exec_params, str(model)


def run_from_kwargs(kwargs: dict, on_batch: Callable[[str, int], None] | None = None) -> RunSummary:
    """`run_local` driven by flow-style keyword arguments (the CLI's --no-prefect path)."""
    params, exec_params, model = params_from_kwargs(kwargs)
    return run_local(params, exec_params, model, kwargs.get("db"), retry_failed=bool(kwargs.get("retry_failed")),
                     on_batch=on_batch)
