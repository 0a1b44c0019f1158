"""`cleann evaluate` through Prefect: the flow explains, evaluates and loads into DuckDB."""
from __future__ import annotations

import pytest

from cleann.store.db import connect

from evalkit import NEGATIVE, POSITIVE, TEXTS, make_text_db


@pytest.mark.flow
def test_cli_evaluate_runs_the_prefect_flow(prefect_harness, tmp_path, capsys):
    from cleann.cli import main
    from cleann.models.tiny import make_tiny_classifier

    model = make_tiny_classifier(tmp_path / "model", positive_words=POSITIVE, negative_words=NEGATIVE)
    db = make_text_db(tmp_path / "f.duckdb")
    rc = main(["evaluate", "imdb", "--corpus-name", "evaltiny", "--limit", "4", "--batch-size", "2",
               "--model", str(model), "--db", str(db), "--max-length", "32", "--n-steps", "4",
               "--explainers", "cleann,attention,ig", "--workers", "2"])
    out = capsys.readouterr().out
    assert rc == 0
    run_id = out.split()[1]
    assert "cleann report" in out and "ig" in out
    con = connect(db, read_only=True)
    try:
        n = con.execute("SELECT count(DISTINCT sample_id) FROM metrics WHERE run_id = ? AND sample_id <> ''",
                        [run_id]).fetchall()[0][0]
        status = con.execute("SELECT status FROM runs WHERE run_id = ?", [run_id]).fetchall()[0][0]
    finally:
        con.close()
    assert n == min(4, len(TEXTS)) and status == "completed"


def test_cli_rejects_unknown_explainer(tmp_path, capsys):
    from cleann.cli import main

    rc = main(["evaluate", "imdb", "--explainers", "cleann,lime", "--db", str(tmp_path / "x.duckdb")])
    assert rc == 2 and "lime" in capsys.readouterr().err
