"""The Prefect flow writes what the library writes, resumes as a no-op, shows every step as
a task, marks a failed flow's run failed, and runs on Dask."""
from __future__ import annotations

import dataclasses

import pytest

from cleann.pipeline import explain
from cleann.pipeline.params import ExecParams, ExplainParams
from cleann.store.db import connect

from pipeline_helpers import TEXTS, make_text_db, table_rows

pytestmark = pytest.mark.flow
PARAMS = ExplainParams(corpus_name="tiny", num_samples=768)


def reference_rows(tmp_path, model, limit=None):
    db = make_text_db(tmp_path / "reference.duckdb")
    s = explain.run_local(PARAMS, ExecParams(limit=limit), model, db)
    return s.run_id, table_rows(db, s.run_id)


def _task_names(flow_run_id) -> set[str]:
    """Names (before the first '-') of the task runs of a flow run and of its subflows."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterParentFlowRunId
    from prefect.client.schemas.sorting import FlowRunSort, TaskRunSort

    async def read() -> list:
        async with get_client() as client:
            children = await client.read_flow_runs(flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id])), limit=50,
                sort=FlowRunSort.ID_DESC)
            ids = [flow_run_id, *(c.id for c in children)]
            return await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)),
                                               limit=200, sort=TaskRunSort.EXPECTED_START_TIME_DESC)

    return {r.name.split("-")[0] for r in asyncio.run(read())}


def test_flow_writes_expected_rows_and_second_run_nothing(prefect_harness, tmp_path, tiny_text_model):
    from cleann.flows.explain import explain_corpus

    db = make_text_db(tmp_path / "flow.duckdb")
    execution = ExecParams(model=str(tiny_text_model), db=str(db), batch_size=3)
    state = explain_corpus(PARAMS, execution, return_state=True)
    first = state.result()
    assert (first["done"], first["failed"], first["status"]) == (len(TEXTS), 0, "completed")
    run_id, expected = reference_rows(tmp_path, tiny_text_model)
    assert first["run_id"] == run_id and table_rows(db, run_id) == expected
    # every step is a task (visible in the UI, retried on transient errors)
    names = _task_names(state.state_details.flow_run_id)
    assert {"prepare_explain", "plan_explain", "explain", "load", "finish"} <= names, names

    second = explain_corpus(params=dataclasses.asdict(PARAMS), execution=dataclasses.asdict(execution))
    assert second["processed_now"] == 0 and table_rows(db, run_id) == expected  # plain dicts work too
    con = connect(db, read_only=True)
    flow_run_id = con.execute("SELECT flow_run_id FROM runs").fetchall()[0][0]
    con.close()
    assert flow_run_id  # provenance: the Prefect flow run that last touched the run


def test_a_failing_flow_marks_its_run_failed(prefect_harness, tmp_path, tiny_text_model, monkeypatch):
    from cleann.flows.explain import explain_corpus

    def boom(plan, failed_batches=0, started=None):
        raise RuntimeError("injected: finish broke")

    monkeypatch.setattr(explain, "EXPLAIN_JOB", dataclasses.replace(explain.EXPLAIN_JOB, finish=boom))
    db = make_text_db(tmp_path / "fail.duckdb")
    with pytest.raises(RuntimeError, match="injected"):
        explain_corpus(PARAMS, ExecParams(model=str(tiny_text_model), db=str(db), limit=2))
    con = connect(db, read_only=True)
    status, error = con.execute("SELECT status, error FROM runs").fetchall()[0]
    con.close()
    assert status == "failed" and "injected: finish broke" in error


def test_flow_on_a_dask_local_cluster(prefect_harness, tmp_path, tiny_text_model):
    pytest.importorskip("prefect_dask")
    from cleann.flows.explain import explain_corpus

    db = make_text_db(tmp_path / "dask.duckdb")
    result = explain_corpus(PARAMS, ExecParams(model=str(tiny_text_model), db=str(db), limit=4, batch_size=2,
                                               runner="dask", workers=1))
    run_id, expected = reference_rows(tmp_path, tiny_text_model, limit=4)
    assert result["done"] == 4 and table_rows(db, run_id) == expected
