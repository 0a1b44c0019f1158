"""The explain flow publishes the run's markdown summary as a Prefect artifact."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "pipeline"))

from pipeline_helpers import NEGATIVE, POSITIVE, TEXTS, make_text_db  # noqa: E402


def test_artifact_key_is_prefect_safe():
    from cleann.report.artifact import artifact_key

    assert artifact_key("3F2a_9.x") == "cleann-run-3f2a-9-x"


@pytest.mark.flow
def test_explain_flow_publishes_the_summary(prefect_harness, tmp_path):
    import httpx
    from prefect.settings import PREFECT_API_URL

    from cleann.flows.explain import explain_corpus
    from cleann.models.tiny import make_tiny_classifier
    from cleann.pipeline.params import ExecParams, ExplainParams
    from cleann.report.artifact import artifact_key, run_summary_markdown_for_db

    model = make_tiny_classifier(tmp_path / "m", positive_words=POSITIVE, negative_words=NEGATIVE)
    db = make_text_db(tmp_path / "a.duckdb", TEXTS[:4])
    params = ExplainParams(corpus_name="tiny", num_samples=768)

    def published(key: str) -> list[SimpleNamespace]:
        # The REST filter (the 3.8 client sends null sub-filters that this server rejects).
        response = httpx.post(f"{PREFECT_API_URL.value()}/artifacts/filter", timeout=30,
                              json={"artifacts": {"key": {"any_": [key]}}, "limit": 50, "offset": 0,
                                    "sort": "CREATED_DESC"})
        response.raise_for_status()
        return [SimpleNamespace(**a) for a in response.json()]

    # Run ids are a hash of the parameters and the model, so other flow tests in this
    # session's Prefect server may already have published under the same key: count them.
    from cleann.pipeline.params import model_sha256, run_id_for

    key = artifact_key(run_id_for(params, model_sha256(model)))
    before = len(published(key))
    summary = explain_corpus(params, ExecParams(model=str(model), db=str(db)))
    assert artifact_key(summary["run_id"]) == key
    artifacts = published(key)
    assert len(artifacts) == before + 1
    newest = artifacts[0]
    assert newest.type == "markdown"
    assert newest.data == run_summary_markdown_for_db(db, summary["run_id"])
    assert f"samples explained: **{summary['done']}**" in newest.data
