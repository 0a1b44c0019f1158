"""The Prefect flow writes what the library writes, resumes as a no-op, and runs on Dask."""
from __future__ import annotations

import pytest

from cleann.pipeline import driver
from cleann.pipeline.params import ExecParams, ExplainParams
from cleann.store.db import connect

from pipeline_helpers import TEXTS, make_text_db, table_rows

pytestmark = pytest.mark.flow


def reference_rows(tmp_path, model, limit=None):
    db = make_text_db(tmp_path / "reference.duckdb")
    s = driver.run_local(ExplainParams(corpus_name="tiny", num_samples=768), ExecParams(limit=limit), model, db)
    return s.run_id, table_rows(db, s.run_id)


def test_flow_writes_expected_rows_and_second_run_nothing(prefect_harness, tmp_path, tiny_text_model):
    from cleann.flows.explain import explain_corpus

    db = make_text_db(tmp_path / "flow.duckdb")
    kwargs = dict(corpus_name="tiny", model=str(tiny_text_model), db=str(db), batch_size=3, num_samples=768)
    first = explain_corpus(**kwargs)
    assert (first["done"], first["failed"], first["status"]) == (len(TEXTS), 0, "completed")
    run_id, expected = reference_rows(tmp_path, tiny_text_model)
    assert first["run_id"] == run_id and table_rows(db, run_id) == expected

    second = explain_corpus(**kwargs)
    assert second["processed_now"] == 0 and table_rows(db, run_id) == expected
    con = connect(db, read_only=True)
    flow_run_id = con.execute("SELECT flow_run_id FROM runs").fetchall()[0][0]
    con.close()
    assert flow_run_id  # provenance: the Prefect flow run that last touched the run


def test_flow_on_a_dask_local_cluster(prefect_harness, tmp_path, tiny_text_model):
    pytest.importorskip("prefect_dask")
    from cleann.flows.explain import explain_corpus

    db = make_text_db(tmp_path / "dask.duckdb")
    result = explain_corpus(corpus_name="tiny", model=str(tiny_text_model), db=str(db), limit=4, batch_size=2,
                            num_samples=768, runner="dask", workers=1)
    run_id, expected = reference_rows(tmp_path, tiny_text_model, limit=4)
    assert result["done"] == 4 and table_rows(db, run_id) == expected
