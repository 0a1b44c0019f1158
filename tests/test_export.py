"""`cleann export`: Parquet files that pandas and DuckDB read back with the database's
row counts and checksums; refusals before anything is written."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent / "pipeline"))

from pipeline_helpers import NEGATIVE, POSITIVE, TEXTS, make_rec_db, make_text_db  # noqa: E402


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    from cleann.models.tiny import make_tiny_classifier
    from cleann.pipeline import explain
    from cleann.pipeline.params import ExecParams, ExplainParams

    tmp = tmp_path_factory.mktemp("export")
    model = make_tiny_classifier(tmp / "m", positive_words=POSITIVE, negative_words=NEGATIVE)
    db = make_text_db(tmp / "t.duckdb", TEXTS + ["   "])  # one failed sample too
    summary = explain.run_local(ExplainParams(corpus_name="tiny", num_samples=768), ExecParams(), model, db)
    # A second run in the same database must not leak into the export.
    explain.run_local(ExplainParams(corpus_name="tiny", num_samples=768, heads="mean"), ExecParams(limit=3), model, db)
    return db, summary.run_id


def _db_counts(db: Path, run_id: str) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {t: con.execute(f"SELECT count(*) FROM {t} WHERE run_id = ?", [run_id]).fetchall()[0][0]
               for t in ("runs", "samples", "tokens", "graph_edges", "explanations", "explain_heads", "words")}
        out["documents"] = con.execute("SELECT count(*) FROM samples WHERE run_id = ?", [run_id]).fetchall()[0][0]
    finally:
        con.close()
    return out


def test_round_trip_counts_and_checksums(text_run, tmp_path):
    from cleann.export import export_run, table_checksum

    db, run_id = text_run
    out = tmp_path / "out"
    tables = export_run(run_id, out, db)
    manifest = json.loads((out / "manifest.json").read_text())
    counts = _db_counts(db, run_id)
    names = {t.name for t in tables}
    assert set(counts) <= names and {"metrics", "token_scores"} <= names
    assert all(manifest["tables"][n]["rows"] == c for n, c in counts.items())
    assert counts["samples"] == len(TEXTS) + 1 and counts["words"] > len(TEXTS) and counts["explanations"] > 0
    con = duckdb.connect()  # a fresh DuckDB reads the files back: same rows, same checksums
    for t in tables:
        rows, checksum = table_checksum(con, f"SELECT * FROM read_parquet('{out / t.file}')")
        assert (rows, checksum) == (t.rows, t.checksum) == (manifest["tables"][t.name]["rows"],
                                                            manifest["tables"][t.name]["checksum"]), t.name
    con.close()
    # pandas reads them too; and the database's checksum of the run's rows is the manifest's.
    samples = pd.read_parquet(out / "samples.parquet")
    assert set(samples["run_id"]) == {run_id} and "failed" in set(samples["status"])
    words = pd.read_parquet(out / "words.parquet")
    assert not words["word"].str.startswith("##").any() and words["in_explanation"].any()
    con = duckdb.connect(str(db), read_only=True)
    assert table_checksum(con, "SELECT * FROM tokens WHERE run_id = $run", {"run": run_id}) == \
        (manifest["tables"]["tokens"]["rows"], manifest["tables"]["tokens"]["checksum"])
    con.close()


def test_checksum_sees_a_changed_value(text_run, tmp_path):
    from cleann.export import export_run, table_checksum

    db, run_id = text_run
    out = tmp_path / "o"
    export_run(run_id, out, db)
    con = duckdb.connect()
    base = table_checksum(con, f"SELECT * FROM read_parquet('{out / 'tokens.parquet'}')")
    changed = table_checksum(con, f"SELECT * REPLACE (CASE WHEN pos = 1 THEN token || 'x' ELSE token END AS token) "
                                  f"FROM read_parquet('{out / 'tokens.parquet'}')")
    con.close()
    assert base[0] == changed[0] and base[1] != changed[1]


def test_refusals_exit_2_and_write_nothing(text_run, tmp_path, capsys):
    from cleann.cli import main

    db, run_id = text_run
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    assert main(["export", run_id, "-o", str(busy), "--db", str(db)]) == 2
    assert "not empty" in capsys.readouterr().err and sorted(p.name for p in busy.iterdir()) == ["keep.txt"]
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["export", run_id, "-o", str(afile), "--db", str(db)]) == 2
    assert "not a folder" in capsys.readouterr().err
    fresh = tmp_path / "fresh"
    for bad in ("nope", "x'; DROP TABLE runs; --", ""):
        assert main(["export", bad, "-o", str(fresh), "--db", str(db)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
    assert not fresh.exists()
    # --force writes into the non-empty folder, keeps the user's file, and a second export replaces ours.
    assert main(["export", run_id, "-o", str(busy), "--db", str(db), "--force"]) == 0
    assert main(["export", run_id, "-o", str(busy), "--db", str(db), "--force"]) == 0
    assert (busy / "keep.txt").read_text() == "mine" and (busy / "samples.parquet").is_file()


def test_rec_run_exports_items(tmp_path):
    from cleann.export import export_run
    from cleann.models.tiny import make_tiny_bert4rec
    from cleann.pipeline import explain
    from cleann.pipeline.params import ExecParams, ExplainParams

    model = make_tiny_bert4rec(tmp_path / "rec", n_items=20)
    db = make_rec_db(tmp_path / "r.duckdb")
    summary = explain.run_local(ExplainParams(corpus_kind="movielens", corpus_name="ml-tiny", num_samples=768),
                               ExecParams(), model, db)
    tables = {t.name: t for t in export_run(summary.run_id, tmp_path / "out", db)}
    items = pd.read_parquet(tmp_path / "out" / "items.parquet")
    tokens = pd.read_parquet(tmp_path / "out" / "tokens.parquet")
    assert "documents" not in tables and len(items) == tables["items"].rows > 0
    assert set(items["item_id"]) == set(tokens["token_id"]) & set(range(1, 21))


@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
def test_export_formats_list_the_manifest_tables(text_run, tmp_path, capsys, fmt):
    """`--format json` is one document, csv one row per table; both agree with manifest.json."""
    import csv
    import io

    from cleann.cli import main

    db, run_id = text_run
    out = tmp_path / "out"
    assert main(["export", run_id, "-o", str(out), "--db", str(db), "--format", fmt]) == 0
    text = capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())["tables"]
    if fmt == "table":
        assert text.strip().splitlines()[-1] == f"wrote {len(manifest)} tables and manifest.json to {out}"
        return
    rows = json.loads(text) if fmt == "json" else list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["table", "file", "rows", "checksum"]
    assert {r["table"]: (int(r["rows"]), r["checksum"]) for r in rows} == {
        name: (t["rows"], t["checksum"]) for name, t in manifest.items()}
    assert all((out / r["file"]).is_file() for r in rows)
