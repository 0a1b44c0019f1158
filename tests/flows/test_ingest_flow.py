"""The `ingest` flow under a temporary Prefect API: idempotent, retries only transient errors."""
from __future__ import annotations

from contextlib import closing

import pandas as pd
import pytest

from cleann.errors import BadInputError
from cleann.sources import artifacts
from cleann.store import db

pytestmark = pytest.mark.flow


def test_ingest_flow_csv_twice(prefect_harness, tmp_path, tmp_db):
    from cleann.flows.ingest import ingest

    path = tmp_path / "reviews.csv"
    pd.DataFrame({"body": ["Great<br />film", "Dull", "Fine"], "y": ["pos", "neg", "pos"]}
                 ).to_csv(path, index=False)
    args = ("imdb", "csv", str(path), "mine", str(tmp_db), "body", "y")
    (first,) = ingest(*args)
    (second,) = ingest(*args)
    assert (first["rows_added"], second["rows_added"]) == (3, 0)
    assert second["already_ingested"]
    with closing(db.connect(tmp_db, read_only=True)) as con:
        assert con.execute("SELECT corpus, count(*) FROM documents GROUP BY 1").fetchall() == [("mine", 3)]
        assert con.execute("SELECT count(*) FROM sources").fetchall()[0][0] == 1


def test_bad_data_fails_once_without_retry(prefect_harness, tmp_path, tmp_db, monkeypatch):
    import cleann.tasks.ingest as ingest_tasks
    from cleann.flows.ingest import ingest

    calls = []

    def bad_source(*args, **kwargs):
        calls.append(1)
        raise BadInputError("reviews.csv: missing column(s) ['text']")

    monkeypatch.setattr(ingest_tasks, "ingest_source", bad_source)
    with pytest.raises(BadInputError, match="missing column"):
        ingest("imdb", "csv", str(tmp_path / "reviews.csv"), None, str(tmp_db))
    assert len(calls) == 1


def test_unreachable_registry_is_retried(prefect_harness, tmp_path, monkeypatch):
    from prefect import flow

    import cleann.tasks.ingest as ingest_tasks

    calls = []

    def flaky_fetch(name):
        calls.append(name)
        if len(calls) == 1:
            raise artifacts.RegistryUnreachableError("pip could not reach the registry")
        return tmp_path

    monkeypatch.setattr(ingest_tasks.artifacts, "fetch", flaky_fetch)
    quick_fetch = ingest_tasks.fetch_artifact.with_options(retry_delay_seconds=0)

    @flow
    def fetch_flow() -> str:
        return quick_fetch("recbole")

    assert fetch_flow() == str(tmp_path)
    assert calls == ["recbole", "recbole"]
