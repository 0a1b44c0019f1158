"""Rebuild a run's flow arguments from its `runs` row, to re-run only its failed samples.

Why from the database: the run id is a hash of the parameters and the model, so the
stored parameters and model path reproduce exactly that run; if the checkpoint changed
since, the id would differ and we refuse instead of mixing models in one run.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from cleann.errors import BadInputError
from cleann.pipeline.params import model_sha256, run_id_for
from cleann.pipeline.params import ExplainParams
from cleann.store.runs import get_run, open_db


def retry_kwargs(run_id: str, db_path: str | Path | None, **exec_options) -> dict:
    """`explain_corpus` keyword arguments that resume ``run_id`` with ``retry_failed``."""
    with open_db(db_path, read_only=True) as con:
        run = get_run(con, run_id)
    if run is None:
        raise BadInputError(f"run {run_id!r} is not in the database {db_path or ''}".rstrip())
    params = ExplainParams.from_json(run["params"])
    if run_id_for(params, model_sha256(run["model"])) != run_id:
        raise BadInputError(f"run {run_id}: model {run['model']} changed since the run started; "
                            "start a new run with `cleann explain`")
    kwargs = asdict(params)  # every field, also those the hashed JSON leaves out
    return {**kwargs, "model": run["model"], "db": str(db_path) if db_path else None,
            "retry_failed": True, **exec_options}
