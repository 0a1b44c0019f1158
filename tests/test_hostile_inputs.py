"""The issue 22 probe as a test: hostile and mistaken command lines, one row each.

Every row is a command line a new user or an attacker typed (a DuckDB file that is not
ours, options that cannot work, numbers out of range, list syntax with holes, a path whose
file is a link to a secret). The contract for each: exit code 2, exactly one line on
stderr (``cleann: error: ...`` holding the row's fragment, before Prefect starts), no
traceback, and nothing written: every file under the row's world folder keeps its bytes
and mtime (DuckDB files are compared by sha256), and no file or folder appears. Rows whose
stderr must not contain a secret say so (``secret``).

The CLI runs in-process (``tests/bad_input_helpers.run_cli``, ~0.1-0.5 s a row); a few
checks that need a real process (a closed pipe, the terminal) run as subprocesses.
Together with tests/test_bad_inputs.py and tests/test_bad_params.py this is the >= 200
bad inputs of issue 22 (``test_the_probe_is_big_enough`` counts them).

Placeholders: ``{w}`` the world folder, ``{db}`` a cleann database with a tiny corpus and
one finished run ``{run}``, ``{model}`` a tiny text classifier (2 heads, 64 positions),
``{foreign}`` a DuckDB file with its own ``documents`` and ``runs`` tables, ``{fruns}``
one with only its own ``runs``, ``{fview}`` one whose ``runs`` is a view, ``{fschema}``
one with tables in another schema only, ``{fsv}`` one with a ``schema_version`` table that
is not cleann's, ``{clash}`` a cleann database whose ``samples`` table lost a column,
``{pending}`` a cleann database before migration 202 holding its own ``explainer_costs``,
``{file}`` a plain file, ``{secret}`` a file with a secret line, ``{mllink}`` a MovieLens
folder whose ``u.data`` links to ``{secret}``, ``{report}`` an existing report file.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from bad_input_helpers import REPO_ROOT, assert_user_error, run_cli

SECRET = "root:x:0:0:SECRET-LINE:/root:/bin/bash"
POSITIVE, NEGATIVE = ["good", "great"], ["bad", "awful"]
D = ["--db", "{db}"]
E = ["explain", "imdb", "--corpus-name", "tiny", *D]
EV = ["evaluate", "imdb", "--corpus-name", "tiny", *D]
SERVE = ["serve", "imdb", "--cron", "0 2 * * *", "--corpus-name", "tiny", *D]
NOT_OURS = "not a cleann database"
CLASH = "not cleann's"
NO_NET = {"HF_HUB_OFFLINE": None, "HF_DATASETS_OFFLINE": None, "HF_ENDPOINT": "http://127.0.0.1:9"}


@dataclass
class Row:
    id: str
    argv: list[str]
    fragment: str
    env: dict[str, str | None] = field(default_factory=dict)
    secret: bool = False  # stderr must not hold the secret file's line


def rows_for_bad_databases() -> list[Row]:
    """Every command that writes or reads the database, on each kind of file that is not ours."""
    commands = {
        "ingest-csv": ["ingest", "imdb", "--source", "csv", "--path", "{w}/good.csv", "--db", "{X}"],
        "ingest-ml100k": ["ingest", "movielens", "--source", "ml-100k", "--path", "{w}/ml", "--db", "{X}"],
        "ingest-offline": ["ingest", "imdb", "--corpus-name", "rt_snippets", "--db", "{X}"],
        "explain": ["explain", "imdb", "--corpus-name", "tiny", "--model", "{model}", "--db", "{X}"],
        "explain-no-prefect": ["explain", "imdb", "--no-prefect", "--model", "{model}", "--db", "{X}"],
        "explain-movielens": ["explain", "movielens", "--db", "{X}"],
        "evaluate": ["evaluate", "imdb", "--corpus-name", "tiny", "--model", "{model}", "--db", "{X}"],
        "retry": ["retry", "{run}", "--db", "{X}"],
        "serve": ["serve", "imdb", "--cron", "0 2 * * *", "--db", "{X}"],
        "demo": ["demo", "--db", "{X}"],
        "export": ["export", "{run}", "-o", "{w}/out-{id}", "--db", "{X}"],
        "report": ["report", "{run}", "-o", "{w}/r-{id}.html", "--db", "{X}"],
        "query-runs": ["query", "runs", "--db", "{X}"],
        "query-failures": ["query", "failures", "--db", "{X}"],
        "sql": ["sql", "SELECT 1", "--db", "{X}"],
    }
    files = {"foreign": NOT_OURS, "fruns": NOT_OURS, "clash": CLASH}
    rows = [Row(f"{cmd}-{kind}", [a.replace("{X}", "{" + kind + "}").replace("{id}", f"{cmd}-{kind}") for a in argv],
                fragment)
            for kind, fragment in files.items() for cmd, argv in commands.items()]
    # The rarer shapes, on one writer and one reader each.
    for kind, fragment in (("fview", NOT_OURS), ("fschema", NOT_OURS), ("fsv", NOT_OURS),
                           ("pending", "explainer_costs (cleann would create it)")):
        for cmd in ("ingest-csv", "query-runs"):
            rows.append(Row(f"{cmd}-{kind}", [a.replace("{X}", "{" + kind + "}") for a in commands[cmd]], fragment))
    return rows


ROWS = rows_for_bad_databases() + [
    # --- staging location ----------------------------------------------------------------
    Row("explain-staging-is-file", [*E, "--staging-dir", "{file}"], "is a file, not a folder"),
    Row("explain-staging-under-file", [*E, "--staging-dir", "{file}/x"], "is a file, not a folder"),
    Row("explain-staging-bogus", [*E, "--staging-dir", "bogus://x"], "unknown storage protocol 'bogus'"),
    Row("explain-staging-s3-without-s3fs", [*E, "--staging-dir", "s3://bucket/x"], "s3:// needs a package"),
    Row("explain-staging-gcs-without-gcsfs", [*E, "--staging-dir", "gcs://bucket/x"], "gcs:// needs a package"),
    Row("explain-staging-chained-bogus", [*E, "--staging-dir", "simplecache::bogus://x"],
        "unknown storage protocol 'bogus'"),
    Row("explain-staging-empty", [*E, "--staging-dir", ""], "--staging-dir: empty path"),
    Row("explain-no-prefect-staging-bogus", [*E, "--no-prefect", "--staging-dir", "bogus://x"], "unknown storage"),
    Row("evaluate-staging-is-file", [*EV, "--staging-dir", "{file}"], "is a file, not a folder"),
    Row("evaluate-staging-bogus", [*EV, "--staging-dir", "bogus://x"], "unknown storage protocol"),
    Row("retry-staging-bogus", ["retry", "{run}", *D, "--staging-dir", "bogus://x"], "unknown storage protocol"),
    Row("retry-staging-is-file", ["retry", "{run}", *D, "--staging-dir", "{file}"], "is a file, not a folder"),
    Row("serve-staging-s3", [*SERVE, "--staging-dir", "s3://bucket/x"], "s3:// needs a package"),
    # --- Dask scheduler ----------------------------------------------------------------------
    Row("explain-dask-unreachable", [*E, "--runner", "dask", "--dask-address", "tcp://127.0.0.1:1"],
        "no Dask scheduler answers"),
    Row("explain-dask-unreachable-no-scheme", [*E, "--runner", "dask", "--dask-address", "127.0.0.1:1"],
        "no Dask scheduler answers"),
    Row("explain-dask-address-without-runner", [*E, "--dask-address", "tcp://127.0.0.1:8786"],
        "only with --runner dask"),
    Row("explain-dask-bad-protocol", [*E, "--runner", "dask", "--dask-address", "http://127.0.0.1:8786"],
        "protocol one of tcp"),
    Row("explain-dask-no-port", [*E, "--runner", "dask", "--dask-address", "tcp://127.0.0.1"],
        "use a scheduler address"),
    Row("explain-dask-port-too-big", [*E, "--runner", "dask", "--dask-address", "tcp://127.0.0.1:99999"],
        "use a scheduler address"),
    Row("explain-dask-empty", [*E, "--runner", "dask", "--dask-address", ""], "use a scheduler address"),
    Row("explain-dask-spaces", [*E, "--runner", "dask", "--dask-address", "tcp://a b:1"], "use a scheduler address"),
    Row("evaluate-dask-unreachable", [*EV, "--runner", "dask", "--dask-address", "tcp://127.0.0.1:1"],
        "no Dask scheduler answers"),
    Row("retry-dask-unreachable", ["retry", "{run}", *D, "--runner", "dask", "--dask-address", "tcp://127.0.0.1:1"],
        "no Dask scheduler answers"),
    Row("retry-dask-bad-syntax", ["retry", "{run}", *D, "--runner", "dask", "--dask-address", "nowhere"],
        "use a scheduler address"),
    # --- serve -----------------------------------------------------------------------------
    Row("serve-bad-timezone", [*SERVE[:4], "--timezone", "Mars/Olympus", *SERVE[4:]], "--timezone 'Mars/Olympus'"),
    Row("serve-lowercase-utc", [*SERVE[:4], "--timezone", "utc", *SERVE[4:]], "Invalid timezone"),
    Row("serve-empty-timezone", [*SERVE[:4], "--timezone", "", *SERVE[4:]], "--timezone '': empty"),
    Row("serve-cron-minute-61", ["serve", "imdb", "--cron", "61 2 * * *", "--corpus-name", "tiny", *D],
        "Invalid cron string"),
    Row("serve-cron-six-fields-garbage", ["serve", "imdb", "--cron", "a b c d e", "--corpus-name", "tiny", *D],
        "--cron"),
    Row("serve-api-unreachable", SERVE, "no Prefect API answers", env={"PREFECT_API_URL": "http://127.0.0.1:9/api"}),
    Row("serve-api-not-a-url", SERVE, "no Prefect API answers", env={"PREFECT_API_URL": "nowhere"}),
    Row("serve-heads-hole", [*SERVE, "--heads", "0,,1"], "an empty item"),
    Row("serve-removal-for-movielens", ["serve", "movielens", "--cron", "0 2 * * *", "--removal", "mask", *D],
        "--removal: only for text corpora"),
    # --- list syntax -------------------------------------------------------------------------
    *[Row(f"explain-heads-{name}", [*E, "--heads", spec], fragment) for name, spec, fragment in [
        ("double-comma", "0,,1", "an empty item"), ("trailing-comma", "0,", "an empty item"),
        ("leading-comma", ",1", "an empty item"), ("only-comma", ",", "an empty item"),
        ("empty", "", "an empty item"), ("duplicate", "1,1", "a head given twice"),
        ("decimal", "1.5", "--heads '1.5'"), ("negative", "-1", "--heads '-1'"), ("plus", "+1", "--heads '+1'"),
        ("arabic-digit", "\u0661", "comma list of head indices"), ("semicolon", "0;1", "--heads '0;1'"),
        ("huge", "99999999999999999999", "comma list of head indices"), ("word", "first,last", "first,last"),
    ]],
    Row("evaluate-heads-hole", [*EV, "--heads", "0,,1"], "an empty item"),
    Row("demo-heads-hole", ["demo", *D, "--heads", "0,,3"], "an empty item"),
    *[Row(f"explain-nodes-{name}", [*E, "--nodes", spec], "--nodes") for name, spec in [
        ("topk-20-digits", "topk:99999999999999999999"), ("topk-above-bound", "topk:4097"),
        ("topk-negative", "topk:-1"), ("topk-empty", "topk:"), ("topk-decimal", "topk:1.5"),
        ("topk-word", "topk:ten"), ("topk-zero", "topk:0"), ("top-typo", "top:3"), ("words-typo", "words2"),
        ("topk-arabic", "topk:\u0663"),
    ]],
    Row("demo-text-nodes-huge", ["demo", *D, "--text-nodes", "topk:99999999999999999999"], "--nodes"),
    Row("demo-rec-nodes-zero", ["demo", *D, "--rec-nodes", "topk:0"], "--nodes"),
    # --- numeric ranges ------------------------------------------------------------------
    Row("explain-max-set-size-0", [*E, "--max-set-size", "0"], "--max-set-size 0: must be at least 1"),
    Row("evaluate-max-set-size-0", [*EV, "--max-set-size", "0"], "--max-set-size 0: must be at least 1"),
    Row("demo-max-set-size-0", ["demo", *D, "--max-set-size", "0"], "--max-set-size 0"),
    Row("explain-max-length-above-model", [*E, "--model", "{model}", "--max-length", "100000"],
        "the model reads at most 64 tokens"),
    Row("explain-max-length-65", [*E, "--model", "{model}", "--max-length", "65"], "reads at most 64"),
    Row("explain-max-length-default-model", [*E, "--max-length", "100000"], "reads at most 512 tokens"),
    Row("evaluate-max-length-above-model", [*EV, "--model", "{model}", "--max-length", "1000"], "reads at most 64"),
    Row("explain-max-length-2", [*E, "--max-length", "2"], "--max-length 2: must be at least 3"),
    *[Row(f"explain-alpha-{name}", [*E, f"--alpha={value}"], fragment) for name, value, fragment in [
        ("nan", "nan", "--alpha nan: use a finite number"), ("inf", "inf", "--alpha inf: use a finite number"),
        ("minus-inf", "-inf", "use a finite number"), ("zero", "0", "--alpha 0.0: must be greater than 0"),
        ("negative", "-0.5", "must be greater than 0"), ("one", "1", "must be less than 1"),
        ("above-one", "2", "must be less than 1"), ("underflow", "1e-400", "must be greater than 0"),
        ("word", "high", "invalid float value"),
    ]],
    Row("evaluate-alpha-nan", [*EV, "--alpha", "nan"], "use a finite number"),
    Row("serve-alpha-nan", [*SERVE, "--alpha", "NaN"], "use a finite number"),
    Row("explain-num-samples-3", [*E, "--num-samples", "3"], "--num-samples 3: must be at least 4"),
    Row("explain-batch-size-negative", [*E, "--batch-size", "-4"], "--batch-size -4"),
    Row("explain-workers-negative", [*E, "--workers", "-1"], "--workers -1"),
    Row("explain-limit-float", [*E, "--limit", "1e3"], "invalid int value"),
    Row("explain-limit-nan", [*E, "--limit", "nan"], "invalid int value"),
    Row("explain-max-range-0", [*E, "--max-range", "0"], "--max-range 0"),
    Row("explain-max-cond-size-negative", [*E, "--max-cond-size", "-1"], "--max-cond-size -1"),
    Row("explain-max-model-rows-negative", [*E, "--max-model-rows", "-1"], "--max-model-rows -1"),
    Row("explain-search-unknown", [*E, "--search", "all"], "--search 'all'"),
    Row("explain-device-tpu", [*E, "--device", "tpu"], "--device 'tpu'"),
    Row("evaluate-n-steps-0", [*EV, "--n-steps", "0"], "--n-steps 0"),
    Row("evaluate-chunk-0", [*EV, "--chunk", "0"], "--chunk 0"),
    Row("evaluate-max-rows-0", [*EV, "--max-rows", "0"], "--max-rows 0"),
    Row("evaluate-shap-evals-1", [*EV, "--shap-max-evals", "1"], "--shap-max-evals 1"),
    Row("evaluate-shap-for-movielens", ["evaluate", "movielens", *D, "--explainers", "cleann,shap"],
        "explains text only"),
    Row("evaluate-explainers-empty", [*EV, "--explainers", ""], "no explainer named"),
    Row("demo-reviews-0", ["demo", *D, "--reviews", "0"], "--limit 0"),
    Row("demo-users-negative", ["demo", *D, "--users", "-5"], "--limit -5"),
    Row("demo-explainers-unknown", ["demo", *D, "--explainers", "cleann,lime"], "explainer 'lime'"),
    Row("demo-report-dir-is-file", ["demo", *D, "--report-dir", "{file}"], "--report-dir"),
    # --- options that do not apply to the corpus --------------------------------------------
    Row("explain-movielens-removal", ["explain", "movielens", *D, "--removal", "mask"],
        "--removal: only for text corpora (imdb); movielens does not use it"),
    Row("explain-movielens-removal-default", ["explain", "movielens", *D, "--removal", "pad"],
        "--removal: only for text corpora"),
    Row("explain-movielens-max-length", ["explain", "movielens", *D, "--max-length", "64"],
        "--max-length: only for text corpora"),
    Row("evaluate-movielens-removal", ["evaluate", "movielens", *D, "--removal", "mask"],
        "--removal: only for text corpora"),
    Row("evaluate-movielens-max-length", ["evaluate", "movielens", *D, "--max-length", "256"],
        "--max-length: only for text corpora"),
    # --- named queries: declared types and ranges -----------------------------------------
    *[Row(f"query-{name}-{key}-{label}", ["query", name, "--run", "{run}", *D, "--param", f"{key}={value}"], fragment)
      for name, key, value, label, fragment in [
          ("causal_tokens", "top", "-5", "negative", "top must be in 1..1000000"),
          ("causal_tokens", "top", "0.5", "half", "top must be a whole number"),
          ("causal_tokens", "top", "1e308", "1e308", "top must be"),
          ("causal_tokens", "top", "0", "zero", "top must be in 1..1000000"),
          ("causal_tokens", "top", "1000001", "above", "top must be in 1..1000000"),
          ("causal_tokens", "top", "99999999999999999999", "20-digits", "top must be in"),
          ("causal_tokens", "top", "inf", "inf", "top must be a whole number"),
          ("causal_tokens", "top", "", "empty", "top must be a whole number"),
          ("causal_tokens", "min_support", "-1", "negative", "min_support must be in 1..1000000000"),
          ("causal_tokens", "min_support", "0", "zero", "min_support must be in 1.."),
          ("causal_tokens", "min_support", "2.5", "half", "min_support must be a whole number"),
          ("causal_not_attended", "max_attended_rate", "1.5", "above", "max_attended_rate must be in 0..1"),
          ("causal_not_attended", "max_attended_rate", "-0.1", "negative", "max_attended_rate must be in 0..1"),
          ("causal_not_attended", "max_attended_rate", "nan", "nan", "max_attended_rate must be a number"),
          ("causal_not_attended", "min_causal", "-1", "negative", "min_causal must be in 0.."),
          ("causal_not_attended", "top", "-5", "negative", "top must be in 1.."),
          ("rec_causal_movies", "min_support", "-1", "negative", "min_support must be in 1.."),
          ("rec_causal_genres", "min_support", "0.5", "half", "min_support must be a whole number"),
      ]],
    Row("query-compare-min-support-negative", ["query", "compare_runs", *D, "--param", "run_a={run}",
                                                "--param", "run_b={run}", "--param", "min_support=-1"],
        "min_support must be in 1.."),
    Row("query-param-on-runs", ["query", "runs", *D, "--param", "top=5"], "has no such parameter"),
    Row("query-wait-nan", ["query", "runs", *D, "--wait", "nan"], "--wait nan"),
    Row("query-wait-inf", ["query", "runs", *D, "--wait", "inf"], "--wait inf"),
    # --- export / report ---------------------------------------------------------------------
    Row("export-wait-negative", ["export", "{run}", "-o", "{w}/out-wait", *D, "--wait", "-1"],
        "argument --wait: -1.0 is below 0"),
    Row("export-wait-nan", ["export", "{run}", "-o", "{w}/out-wait", *D, "--wait", "nan"], "not a finite number"),
    Row("export-wait-inf", ["export", "{run}", "-o", "{w}/out-wait", *D, "--wait", "inf"], "not a finite number"),
    Row("export-wait-word", ["export", "{run}", "-o", "{w}/out-wait", *D, "--wait", "soon"], "argument --wait"),
    Row("export-output-is-file", ["export", "{run}", "-o", "{file}", *D], "exists and is not a folder"),
    Row("export-run-id-injection", ["export", "x' OR 1=1 --", "-o", "{w}/out-inj", *D], "run id"),
    Row("report-existing-file", ["report", "{run}", "-o", "{report}", *D], "exists (pass --force to replace it)"),
    Row("report-existing-file-relative", ["report", "{run}", "-o", "existing.html", *D], "pass --force"),
    Row("report-run-id-blank", ["report", " ", "-o", "{w}/r-blank.html", *D], "not a run id"),
    # --- train: a cached model of another schedule --------------------------------------------
    Row("train-epochs-differs-from-cache", ["train", "bert4rec", "--epochs", "2"],
        "trained with 30 epochs and would be returned unchanged; add --force"),
    Row("train-epochs-differs-from-cache-json", ["train", "bert4rec", "--epochs", "31", "--format", "json"],
        "add --force to retrain it"),
    # --- ingest: no network, files that are not what they claim --------------------------
    Row("ingest-hf-no-network", ["ingest", "imdb", "--source", "hf", *D], "cannot be reached", env=NO_NET),
    Row("ingest-hf-no-network-named", ["ingest", "imdb", "--source", "hf", "--path", "someone/reviews", *D],
        "the dataset hub http://127.0.0.1:9 cannot be reached", env=NO_NET),
    Row("ingest-hf-endpoint-not-url", ["ingest", "imdb", "--source", "hf", *D], "cannot be reached",
        env={**NO_NET, "HF_ENDPOINT": "nowhere"}),
    Row("ingest-csv-is-secret", ["ingest", "imdb", "--source", "csv", "--path", "{secret}", *D],
        "missing column(s) ['text', 'label'] (the header has", secret=True),
    Row("ingest-csv-secret-as-columns", ["ingest", "imdb", "--source", "csv", "--path", "{secret}",
                                         "--text-column", "x", "--label-column", "y", *D],
        "missing column(s) ['x', 'y']", secret=True),
    Row("ingest-parquet-is-secret", ["ingest", "imdb", "--source", "parquet", "--path", "{secret}", *D],
        "not a Parquet file", secret=True),
    Row("ingest-ml100k-link-to-secret", ["ingest", "movielens", "--source", "ml-100k", "--path", "{mllink}", *D],
        "is a MovieLens rating", secret=True),
    Row("ingest-ml1m-secret-zip", ["ingest", "movielens", "--source", "ml-1m", "--path", "{secret}", *D],
        "not a zip file or folder", secret=True),
    Row("ingest-aclimdb-secret", ["ingest", "imdb", "--source", "aclimdb", "--path", "{secret}", *D],
        "not a folder", secret=True),
    Row("ingest-db-is-secret", ["ingest", "imdb", "--source", "csv", "--path", "{w}/good.csv", "--db", "{secret}"],
        "not a DuckDB database file", secret=True),
    Row("sql-db-is-secret", ["sql", "SELECT 1", "--db", "{secret}"], "cannot open the database", secret=True),
    Row("model-eval-secret-folder", ["model", "eval", "sentiment", "--model", "{w}"], "no config.json", secret=True),
]


# --- the world: files the rows point at (built once; every row must leave it as it was) -------

def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def world_state(folder: Path) -> dict[str, tuple]:
    """Every path under ``folder``: (kind, size, mtime_ns, sha256 of DuckDB files)."""
    state = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_symlink():
            state[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            state[rel] = ("dir",)
        else:
            st = path.stat()
            digest = _sha(path) if path.suffix in (".duckdb", ".wal") else None
            state[rel] = ("file", st.st_size, st.st_mtime_ns, digest)
    return state


def _foreign(path: Path, sql: list[str]) -> Path:
    con = duckdb.connect(str(path))
    for statement in sql:
        con.execute(statement)
    con.close()
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, str]:
    from cleann.models.bert4rec_train import SCHEDULE_VERSION
    from cleann.metrics.evaluate import run_evaluation_local
    from cleann.metrics.settings import EvalSettings
    from cleann.models.tiny import make_tiny_classifier
    from cleann.pipeline.explain import run_local
    from cleann.pipeline.params import ExecParams, ExplainParams
    from cleann.store.db import connect, insert_frame, migrations

    home = tmp_path_factory.mktemp("home")
    w = tmp_path_factory.mktemp("world")
    model = make_tiny_classifier(tmp_path_factory.mktemp("model") / "model", positive_words=POSITIVE,
                                 negative_words=NEGATIVE)
    db = w / "cleann.duckdb"
    con = connect(db)
    insert_frame(con, "documents", pd.DataFrame({
        "corpus": "tiny", "doc_id": ["d0", "d1", "d2"], "split": "test",
        "text": ["a good film", "an awful plot", "great and bad"], "label": [1, 0, 1], "source": "test"}))
    con.close()
    run = run_local(ExplainParams(corpus_name="tiny", num_samples=768, max_set_size=1), ExecParams(), model, db)
    run_evaluation_local(db, run.run_id, EvalSettings(explainers=("cleann", "attention")))
    staging = db.with_name(db.name + ".staging")
    if staging.exists():  # the finished run's empty staging folder: not part of the world
        import shutil

        shutil.rmtree(staging)
    _foreign(w / "foreign.duckdb", ["CREATE TABLE documents (id INTEGER, body VARCHAR)",
                                    "INSERT INTO documents VALUES (1, 'theirs')",
                                    "CREATE TABLE runs (id INTEGER, started TIMESTAMP)"])
    _foreign(w / "fruns.duckdb", ["CREATE TABLE runs (run_id VARCHAR, note VARCHAR)",
                                  f"INSERT INTO runs VALUES ('{run.run_id}', 'theirs')"])
    _foreign(w / "fview.duckdb", ["CREATE VIEW runs AS SELECT 1 AS run_id"])
    _foreign(w / "fschema.duckdb", ["CREATE SCHEMA analytics", "CREATE TABLE analytics.events (x INTEGER)"])
    _foreign(w / "fsv.duckdb", ["CREATE TABLE schema_version (v INTEGER)", "INSERT INTO schema_version VALUES (1)"])
    clash = w / "clash.duckdb"
    connect(clash).close()
    _foreign(clash, ["ALTER TABLE samples DROP COLUMN pred"])
    pending = w / "pending.duckdb"
    statements = []
    for version, name, sql in migrations():
        if version != 202:
            statements += [sql, f"INSERT INTO schema_version (version, name) VALUES ({version}, '{name}')"]
    _foreign(pending, [*statements, "CREATE TABLE explainer_costs (mine INTEGER)"])
    (w / "good.csv").write_text("text,label\na good film,1\na dull film,0\n")
    (w / "plain.txt").write_text("just a file\n")
    secret = w / "secret.txt"
    secret.write_text(SECRET + "\ndaemon:x:1:1:SECRET-TWO\n")
    (w / "mllink").mkdir()
    (w / "mllink" / "u.data").symlink_to(secret)
    (w / "mllink" / "u.item").symlink_to(secret)
    (w / "ml").mkdir()
    (w / "ml" / "u.data").write_text("1\t10\t5\t100\n")
    (w / "ml" / "u.item").write_text("10|A (1990)|||u|" + "|".join(["0"] * 18 + ["1"]) + "\n")
    (w / "existing.html").write_text("<p>my own page</p>\n")
    # A cached default BERT4Rec of the current schedule, trained with 30 epochs (card + weights).
    cached = home / "models" / "bert4rec-ml-100k"  # default_bert4rec_dir() under CLEANN_HOME={home}
    cached.mkdir(parents=True)
    (cached / "model.safetensors").write_bytes(b"not really weights")
    (cached / "model_card.json").write_text(json.dumps({
        "schedule_version": SCHEDULE_VERSION, "hyper_parameters": {"epochs": 30},
        "weights_sha256": _sha(cached / "model.safetensors")}))
    return {"w": str(w), "home": str(home), "db": str(db), "run": run.run_id, "model": str(model),
            "foreign": str(w / "foreign.duckdb"), "fruns": str(w / "fruns.duckdb"),
            "fview": str(w / "fview.duckdb"), "fschema": str(w / "fschema.duckdb"), "fsv": str(w / "fsv.duckdb"),
            "clash": str(clash), "pending": str(pending), "file": str(w / "plain.txt"), "secret": str(secret),
            "mllink": str(w / "mllink"), "report": str(w / "existing.html")}


def _argv(row: Row, world: dict[str, str]) -> list[str]:
    out = []
    for arg in row.argv:
        for key, value in world.items():
            arg = arg.replace("{" + key + "}", value)
        out.append(arg)
    return out


def test_the_probe_is_big_enough():
    """Issue 22's goal: >= 200 hostile inputs with exit code, one line, nothing written."""
    import test_bad_inputs
    import test_bad_params

    assert len({r.id for r in ROWS}) == len(ROWS), "row ids must be unique"
    total = len(ROWS) + len(test_bad_inputs.ROWS) + len(test_bad_params.ROWS)
    assert len(ROWS) >= 200 and total >= 300, (len(ROWS), total)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_hostile_input_is_refused_with_one_line_and_nothing_written(row: Row, world):
    folder = Path(world["w"])
    before = world_state(folder)
    env = {"CLEANN_HOME": world["home"], "CLEANN_DB": world["db"], **row.env}
    result = run_cli(_argv(row, world), env, cwd=folder)
    assert_user_error(result, row.fragment, 2, only_line=True)
    if row.secret:
        assert "SECRET" not in result[2] and "root:x" not in result[2], result[2]
    assert world_state(folder) == before, "a file under the world folder changed, appeared or went away"


# --- what the rows cannot show -------------------------------------------------------------------

def test_a_foreign_database_stays_byte_identical_through_the_library(tmp_path):
    """connect() itself refuses, writable or read-only, before migrating anything."""
    from cleann.errors import BadInputError
    from cleann.store.db import connect

    path = _foreign(tmp_path / "theirs.duckdb", ["CREATE TABLE documents (id INTEGER)", "CREATE TABLE runs (x INT)"])
    digest = _sha(path)
    for read_only in (False, True):
        with pytest.raises(BadInputError, match="not a cleann database .*documents, runs"):
            connect(path, read_only=read_only)
    assert _sha(path) == digest and not path.with_name(path.name + ".wal").exists()


def test_a_new_file_is_still_created_and_then_opens_as_ours(tmp_path):
    from cleann.store.db import check_database_file, connect

    path = tmp_path / "new.duckdb"
    check_database_file(path)
    connect(path).close()
    check_database_file(path)
    connect(path, read_only=True).close()
    connect(path).close()


def test_a_database_from_before_migration_104_still_opens(tmp_path):
    """The clash check compares with the migrations the file records, not with the newest."""
    from cleann.store.db import connect, migrations

    path = tmp_path / "old.duckdb"
    _foreign(path, [s for v, n, sql in migrations() if v != 104
                    for s in (sql, f"INSERT INTO schema_version (version, name) VALUES ({v}, '{n}')")])
    connect(path, read_only=True).close()
    connect(path).close()  # migrates to 104


def test_closed_pipe_ends_quietly():
    """`cleann query --list | true`: exit 0, nothing on stderr (was a BrokenPipeError traceback)."""
    for argv in (["query", "--list"], ["query", "--list", "--format", "json"]):
        proc = subprocess.Popen([sys.executable, "-m", "cleann", *argv], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=REPO_ROOT)
        proc.stdout.close()  # the reader is gone before anything is written
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 0 and err == "", err


def test_query_runs_into_a_closed_pipe_ends_quietly(world):
    proc = subprocess.Popen([sys.executable, "-m", "cleann", "query", "runs", "--db", world["db"]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO_ROOT)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and err == "", err


def test_unreachable_dask_scheduler_is_refused_within_seconds(world):
    import time

    started = time.perf_counter()
    result = run_cli(_argv(next(r for r in ROWS if r.id == "explain-dask-unreachable"), world),
                     {"CLEANN_HOME": world["home"]}, cwd=world["w"])
    assert_user_error(result, "no Dask scheduler answers")
    assert time.perf_counter() - started < 10  # Dask's own connect timeout is 30 s


def test_mixed_labels_are_skipped_with_reasons_not_guessed(tmp_path):
    """A CSV mixing 1, 0, -1, pos, rotten and 7: 0 (beside -1) and 7 are skipped with their
    reasons and lines; the rest keep their documented meaning."""
    from cleann.sources.text import NEUTRAL_ZERO, UNKNOWN_LABEL, load_table
    from cleann.store.db import IngestResult

    path = tmp_path / "mixed.csv"
    path.write_text("text,label\na,1\nb,0\nc,-1\nd,pos\ne,rotten\nf,7\ng, Positive \n")
    frame = load_table(path)
    assert frame["label"].tolist() == [1, 0, 1, 0, 1]
    info = frame.attrs["source"]
    assert info["skipped"] == {UNKNOWN_LABEL: 1, NEUTRAL_ZERO: 1}
    assert info["examples"] == [f"{path}:7 ({UNKNOWN_LABEL})", f"{path}:3 ({NEUTRAL_ZERO})"]
    line = IngestResult("mixed", "csv", 7, 5, 2, False, {"documents": 5}, info["skipped"], info["examples"]).summary()
    assert "skipped 2 (1 label not a documented spelling, 1 label 0 beside -1" in line


def test_summary_data_escapes_only_what_html_needs():
    """The embedded summary is JSON a script can load; markup in a value cannot end the element."""
    from cleann.report.html import script_json

    value = [{"explainer": "</script><script>alert(1)</script>", "note": "a & b <!--", "found": None}]
    text = script_json(value)
    assert json.loads(text) == value
    assert "<" not in text and ">" not in text and "&" not in text


def test_report_summary_data_parses_and_an_existing_file_needs_force(world, tmp_path):
    import re

    out = tmp_path / "r.html"
    env = {"CLEANN_HOME": world["home"]}
    code, _, err = run_cli(["report", world["run"], "-o", str(out), "--db", world["db"]], env)
    assert code == 0, err
    html = out.read_text(encoding="utf-8")
    data = re.search(r'<script type="application/json" id="summary-data">(.*?)</script>', html, re.S).group(1)
    rows = json.loads(data)
    assert {r["explainer"] for r in rows} == {"cleann", "attention"}
    out.write_text("mine")
    assert_user_error(run_cli(["report", world["run"], "-o", str(out), "--db", world["db"]], env), "--force")
    assert out.read_text() == "mine"
    code, _, err = run_cli(["report", world["run"], "-o", str(out), "--db", world["db"], "--force"], env)
    assert code == 0 and out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>"), err


def test_code_version_runs_no_git_and_reads_only_its_own_checkout(tmp_path, monkeypatch):
    import cleann.pipeline.params as params

    git = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=REPO_ROOT,
                         env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})  # the test may; the code must not

    def no_processes(*a, **k):
        raise AssertionError("code_version must not start a process (git takes .git/index.lock)")

    monkeypatch.setattr(subprocess, "Popen", no_processes)
    params.code_version.cache_clear()
    try:
        text = params.code_version()
    finally:
        params.code_version.cache_clear()
    assert text.startswith("cleann ")
    sha = params.source_commit(REPO_ROOT)
    if git.returncode == 0:  # a checkout: the commit is read from .git, the same one git names
        assert sha == git.stdout.strip() and f"(git {sha[:12]})" in text
    # another project's checkout (the user's repository) is never read
    other = tmp_path / "theirs"
    (other / ".git" / "refs" / "heads").mkdir(parents=True)
    (other / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (other / ".git" / "refs" / "heads" / "main").write_text("a" * 40 + "\n")
    (other / "pyproject.toml").write_text('[project]\nname = "theirs"\n')
    assert params.source_commit(other) is None
    # cleann's own checkout: loose ref, packed ref, detached HEAD
    (other / "pyproject.toml").write_text('[project]\nname = "cleann"\n')
    assert params.source_commit(other) == "a" * 40
    (other / ".git" / "refs" / "heads" / "main").unlink()
    (other / ".git" / "packed-refs").write_text(f"# pack-refs\n{'b' * 40} refs/heads/main\n")
    assert params.source_commit(other) == "b" * 40
    (other / ".git" / "HEAD").write_text("c" * 40 + "\n")
    assert params.source_commit(other) == "c" * 40
    assert not (other / ".git" / "index.lock").exists()


@pytest.mark.parametrize("spec", ["cleann,,ig", ",ig", "ig,", "ig,ig"])
def test_explainer_lists_with_holes_or_repeats_are_refused(spec):
    from cleann.errors import BadInputError
    from cleann.metrics.settings import parse_explainers

    with pytest.raises(BadInputError, match="explainers"):
        parse_explainers(spec)
    assert parse_explainers("cleann, ig") == ("cleann", "ig")
