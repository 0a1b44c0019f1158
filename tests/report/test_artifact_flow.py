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
    summary = explain_corpus(ExplainParams(corpus_name="tiny", num_samples=768),
                             ExecParams(model=str(model), db=str(db)))
    key = artifact_key(summary["run_id"])

    # The REST filter (the 3.8 client sends null sub-filters that this server rejects).
    response = httpx.post(f"{PREFECT_API_URL.value()}/artifacts/filter", timeout=30,
                          json={"artifacts": {"key": {"any_": [key]}}, "limit": 10, "offset": 0, "sort": "CREATED_DESC"})
    response.raise_for_status()
    artifacts = [SimpleNamespace(**a) for a in response.json()]
    assert len(artifacts) == 1 and artifacts[0].type == "markdown"
    assert artifacts[0].data == run_summary_markdown_for_db(db, summary["run_id"])
    assert f"samples explained: **{summary['done']}**" in artifacts[0].data
