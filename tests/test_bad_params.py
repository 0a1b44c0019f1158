"""One row per bad parameter of explain / evaluate / retry / serve: exit 2, one line, nothing written.

Why a table: every parameter is declared once (cleann/pipeline/params.py) with its bounds
and choices, and checked there or in `explain.check_inputs` before Prefect starts; each
row is a mistake a user made (issue 12 item 6, issue 13), with the fragment the one-line
message must contain. The database (a tiny corpus and one finished run) is compared
before and after, and no staging folder may appear.

Placeholders: ``{db}`` the database, ``{model}`` the tiny text classifier (2 heads),
``{run}`` the finished run's id.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bad_input_helpers import assert_user_error, db_fingerprint, run_cli

POSITIVE, NEGATIVE = ["good", "great"], ["bad", "awful"]
D = ["--db", "{db}"]
E = ["explain", "imdb", "--corpus-name", "tiny", *D]

ROWS = [
    ("explain-limit-0", [*E, "--limit", "0"], "--limit 0: must be at least 1"),
    ("explain-limit-negative", [*E, "--limit", "-1"], "--limit -1"),
    ("explain-split-validation", [*E, "--split", "validation"], "--split 'validation': use one of train, test, all"),
    ("explain-batch-size-0", [*E, "--batch-size", "0"], "--batch-size 0"),
    ("explain-max-length-0", [*E, "--max-length", "0"], "--max-length 0"),
    ("explain-num-samples-0", [*E, "--num-samples", "0"], "--num-samples 0"),
    ("explain-max-set-size-negative", [*E, "--max-set-size", "-1"], "--max-set-size -1"),
    ("explain-max-model-rows-0", [*E, "--max-model-rows", "0"], "--max-model-rows 0"),
    ("explain-heads-beyond-model", [*E, "--heads", "0,99", "--model", "{model}"], "the model has 2 heads"),
    ("explain-heads-garbage", [*E, "--heads", "first"], "--heads 'first'"),
    ("explain-nodes-topk-0", [*E, "--nodes", "topk:0"], "--nodes 'topk:0'"),
    ("explain-alpha-1", [*E, "--alpha", "1"], "--alpha 1.0: must be less than 1"),
    ("explain-learner-unknown", [*E, "--learner", "pc"], "--learner 'pc'"),
    ("explain-runner-unknown", [*E, "--runner", "slurm"], "--runner 'slurm'"),
    ("explain-workers-0", [*E, "--workers", "0"], "--workers 0"),
    ("explain-kind-unknown", ["explain", "books", *D], "kind 'books': use one of imdb, movielens"),
    ("explain-corpus-name-unknown", ["explain", "imdb", "--corpus-name", "nosuch", *D], "--corpus-name 'nosuch'"),
    ("explain-movielens-split-train", ["explain", "movielens", "--split", "train", *D], "--split 'train'"),
    ("explain-model-missing", [*E, "--model", "{db}.nomodel"], "no such checkpoint"),
    ("explain-movielens-with-text-model", ["explain", "movielens", "--model", "{model}", *D],
     "is a text classifier checkpoint"),
    ("explain-db-folder-missing", [*E[:4], "--db", "{db}.missing/x.duckdb"], "does not exist"),
    ("explain-no-prefect-limit-0", [*E, "--no-prefect", "--limit", "0"], "--limit 0"),
    ("evaluate-limit-0", ["evaluate", "imdb", "--corpus-name", "tiny", *D, "--limit", "0"], "--limit 0"),
    ("evaluate-explainer-unknown", ["evaluate", "imdb", "--corpus-name", "tiny", *D, "--explainers", "lime"],
     "explainer 'lime'"),
    ("evaluate-max-set-size-negative", ["evaluate", "imdb", "--corpus-name", "tiny", *D, "--max-set-size", "-3"],
     "--max-set-size -3"),
    ("retry-unknown-run", ["retry", "0123456789abcdef", *D], "not in the database"),
    ("retry-batch-size-0", ["retry", "{run}", *D, "--batch-size", "0"], "--batch-size 0"),
    ("retry-runner-unknown", ["retry", "{run}", *D, "--runner", "cluster"], "--runner 'cluster'"),
    ("serve-limit-0", ["serve", "imdb", "--cron", "0 2 * * *", "--corpus-name", "tiny", *D, "--limit", "0"],
     "--limit 0"),
    ("serve-bad-cron", ["serve", "imdb", "--cron", "every night", "--corpus-name", "tiny", *D], "--cron"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, str]:
    """A database with a tiny corpus and one finished run, and the tiny model."""
    from cleann.models.tiny import make_tiny_classifier
    from cleann.pipeline.explain import run_local
    from cleann.pipeline.params import ExecParams, ExplainParams
    from cleann.store.db import connect, insert_frame

    folder = tmp_path_factory.mktemp("badparams")
    model = make_tiny_classifier(folder / "model", positive_words=POSITIVE, negative_words=NEGATIVE)
    db = folder / "t.duckdb"
    texts = ["a good film", "an awful plot", "great and bad"]
    con = connect(db)
    insert_frame(con, "documents", pd.DataFrame({
        "corpus": "tiny", "doc_id": [f"d{i}" for i in range(len(texts))], "split": "test", "text": texts,
        "label": [1, 0, 1], "source": "test"}))
    con.close()
    run = run_local(ExplainParams(corpus_name="tiny", num_samples=768, max_set_size=1), ExecParams(), model, db)
    return {"db": str(db), "model": str(model), "run": run.run_id}


def test_table_is_big_and_ids_unique():
    assert len(ROWS) >= 15 and len({r[0] for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_bad_parameter_is_refused_before_anything_runs(row, world):
    _, argv, fragment = row
    argv = [a.format(**world) for a in argv]
    db = Path(world["db"])
    staging = db.with_name(db.name + ".staging")
    before = (db_fingerprint(db), sorted(p.name for p in staging.iterdir()) if staging.exists() else None)
    result = run_cli(argv)
    assert_user_error(result, fragment)
    after = (db_fingerprint(db), sorted(p.name for p in staging.iterdir()) if staging.exists() else None)
    assert after == before
    assert not Path(world["db"] + ".missing").exists()


def test_a_user_error_in_a_subprocess_is_one_line_and_fast():
    """What a user sees on the terminal: no traceback, no Prefect start-up."""
    result = run_cli(["explain", "imdb", "--limit", "0"], subprocess=True, timeout=120)
    assert_user_error(result, "--limit 0")
