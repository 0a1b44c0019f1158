"""`cleann evaluate --format json|csv|markdown` (in-process, tiny lexicon model): json is one
document whose summary rows are the csv rows; markdown is a table of the same explainers."""
from __future__ import annotations

import csv
import io
import json

import pytest

from evalkit import NEGATIVE, POSITIVE, make_text_db


@pytest.fixture(scope="module")
def evaluate_argv(tmp_path_factory):
    from cleann.models.tiny import make_tiny_classifier

    tmp = tmp_path_factory.mktemp("evalfmt")
    model = make_tiny_classifier(tmp / "model", positive_words=POSITIVE, negative_words=NEGATIVE)
    db = make_text_db(tmp / "f.duckdb")
    return ["evaluate", "imdb", "--corpus-name", "evaltiny", "--limit", "3", "--model", str(model),
            "--db", str(db), "--max-length", "32", "--explainers", "cleann,attention", "--no-prefect"]


def test_evaluate_json_csv_markdown_agree(evaluate_argv, capsys):
    from cleann.cli import main

    outs = {}
    for fmt in ("json", "csv", "markdown"):
        assert main([*evaluate_argv, "--format", fmt]) == 0
        outs[fmt] = capsys.readouterr().out
    doc = json.loads(outs["json"])  # the whole stdout: progress lines would break this
    rows = list(csv.DictReader(io.StringIO(outs["csv"])))
    assert {r["explainer"] for r in doc["summary"]} == {r["explainer"] for r in rows} == {"cleann", "attention"}
    assert all(r["run_id"] == doc["run_id"] for r in rows) and len(doc["run_id"]) == 16
    by_name = {r["explainer"]: r for r in doc["summary"]}
    for row in rows:
        assert int(row["samples"]) == by_name[row["explainer"]]["samples"] == 3
        assert float(row["success_rate"]) == pytest.approx(by_name[row["explainer"]]["success_rate"])
    table = [line for line in outs["markdown"].splitlines() if line.startswith("| ")]
    assert {line.split("|")[1].strip() for line in table[1:]} >= {"cleann", "attention"}
