"""End to end without Prefect: real engine, tiny lexicon classifier, tiny corpus."""
from __future__ import annotations

import numpy as np
import pytest

from cleann.pipeline import explain
from cleann.pipeline.params import ExecParams, ExplainParams
from cleann.store.db import connect

from pipeline_helpers import NEGATIVE, POSITIVE, TEXTS, make_rec_db, make_text_db, table_rows

PARAMS = ExplainParams(corpus_name="tiny", num_samples=768)


def test_run_writes_expected_rows_and_rerun_adds_nothing(text_db, tiny_text_model):
    first = explain.run_local(PARAMS, ExecParams(batch_size=4), tiny_text_model, text_db)
    assert (first.done, first.failed, first.processed_now, first.status) == (len(TEXTS), 0, len(TEXTS), "completed")
    rows = table_rows(text_db, first.run_id)
    con = connect(text_db, read_only=True)
    n_tokens = con.execute("SELECT sum(n_tokens) FROM samples WHERE run_id = ?", [first.run_id]).fetchall()[0][0]
    run = con.execute("SELECT status, model_sha256, params, code_version FROM runs WHERE run_id = ?",
                      [first.run_id]).fetchall()[0]
    best = con.execute("SELECT s.sample_id, e.positions, e.flipped_to, s.pred FROM explanations e JOIN samples s "
                       "USING (run_id, sample_id) WHERE e.run_id = ? AND e.rank = 0", [first.run_id]).fetchall()
    tokens = {(r[1], r[2]): r[4] for r in rows["tokens"]}  # (sample, pos) -> token
    con.close()
    assert len(rows["tokens"]) == n_tokens and n_tokens > 3 * len(TEXTS)
    assert len(rows["explain_heads"]) == 2 * len(TEXTS)  # tiny model: 2 heads, heads=all
    assert run[0] == "completed" and len(run[1]) == 64 and '"corpus_name":"tiny"' in run[2] and run[3]
    assert best, "the lexicon model should yield some explanations"
    for sid, positions, flipped_to, pred in best:
        # A best explanation flips the class: removing it must drop a word of the predicted polarity.
        words = {tokens[(sid, p)] for p in positions}
        assert flipped_to == 1 - pred
        assert words & set(POSITIVE if pred == 1 else NEGATIVE), (sid, words)
    # Each sample has at most one rank-0 row, a copy of one of its per-head rows.
    assert len({r[0] for r in best}) == len(best)

    second = explain.run_local(PARAMS, ExecParams(batch_size=4), tiny_text_model, text_db)
    assert second.run_id == first.run_id and second.processed_now == 0
    assert table_rows(text_db, first.run_id) == rows


def test_limit_extends_the_same_run(text_db, tiny_text_model):
    a = explain.run_local(PARAMS, ExecParams(limit=3), tiny_text_model, text_db)
    b = explain.run_local(PARAMS, ExecParams(limit=5), tiny_text_model, text_db)
    assert a.run_id == b.run_id and (a.processed_now, b.processed_now, b.done) == (3, 2, 5)
    other = explain.run_local(PARAMS.with_(alpha=0.05), ExecParams(limit=1), tiny_text_model, text_db)
    assert other.run_id != a.run_id


def test_permanent_failure_is_recorded_and_retry_completes_it(tmp_path, tiny_text_model):
    from cleann.cli import main

    db = make_text_db(tmp_path / "f.duckdb", TEXTS[:3] + ["   "])
    summary = explain.run_local(PARAMS, ExecParams(batch_size=2), tiny_text_model, db)
    assert (summary.done, summary.failed, summary.status) == (3, 1, "partial")
    con = connect(db)
    failed = con.execute("SELECT sample_id, error FROM samples WHERE status = 'failed'").fetchall()
    assert failed == [("d03", "BadInputError: empty text")]
    assert con.execute("SELECT error FROM runs").fetchall()[0][0] == "1 sample(s) failed"
    before = con.execute("SELECT count(*) FROM tokens").fetchall()[0][0]
    con.execute("UPDATE documents SET text = 'a great film' WHERE doc_id = 'd03'")  # remove the cause
    con.close()

    assert main(["retry", summary.run_id, "--db", str(db), "--no-prefect"]) == 0
    con = connect(db, read_only=True)
    statuses = con.execute("SELECT sample_id, status FROM samples ORDER BY 1").fetchall()
    after = con.execute("SELECT count(*) FROM tokens").fetchall()[0][0]
    run_status = con.execute("SELECT status, error FROM runs").fetchall()[0]
    con.close()
    assert statuses == [(f"d0{i}", "ok") for i in range(4)]
    assert after == before + len("[CLS] a great film [SEP]".split())
    assert run_status == ("completed", None)


def test_a_sample_that_raises_fails_alone(text_db, tiny_text_model, monkeypatch):
    from cleann.pipeline import batch

    real = batch.explain_view

    def flaky(view, *args, **kwargs):
        if "awful" in view.tokens:
            raise ValueError("injected: cannot explain this one")
        return real(view, *args, **kwargs)

    monkeypatch.setattr(batch, "explain_view", flaky)
    summary = explain.run_local(PARAMS, ExecParams(batch_size=4), tiny_text_model, text_db)
    con = connect(text_db, read_only=True)
    failed = con.execute("SELECT sample_id, error FROM samples WHERE status = 'failed' ORDER BY 1").fetchall()
    con.close()
    awful = sorted(f"d{i:02d}" for i, t in enumerate(TEXTS) if "awful" in t.split())
    assert [f[0] for f in failed] == awful
    assert all(f[1] == "ValueError: injected: cannot explain this one" for f in failed)
    assert summary.done == len(TEXTS) - len(awful)


def test_transient_error_propagates_for_a_retry(text_db, tiny_text_model, monkeypatch):
    from cleann.pipeline import batch

    plan = explain.plan_run(PARAMS, ExecParams(batch_size=20), tiny_text_model, text_db)
    monkeypatch.setattr(batch, "explain_view", lambda *a, **k: (_ for _ in ()).throw(OSError("disk gone")))
    with pytest.raises(OSError):
        batch.process_batch(plan.staging, plan.batch_ids[0], PARAMS, str(tiny_text_model))
    assert plan.staging.ready_batches() == []  # nothing half-written is ever loadable


def test_staged_but_unloaded_batch_is_recovered_on_resume(text_db, tiny_text_model):
    from cleann.pipeline.batch import process_batch

    plan = explain.plan_run(PARAMS, ExecParams(batch_size=4), tiny_text_model, text_db)
    process_batch(plan.staging, plan.batch_ids[0], PARAMS, str(tiny_text_model))  # then "killed"
    again = explain.plan_run(PARAMS, ExecParams(batch_size=4), tiny_text_model, text_db)
    assert again.recovered == 4 and again.n_pending == len(TEXTS) - 4


@pytest.mark.parametrize("nodes", ["words", "topk:3"])
def test_node_selection_positions_are_token_positions(text_db, tiny_text_model, nodes):
    summary = explain.run_local(PARAMS.with_(nodes=nodes, heads="mean"), ExecParams(batch_size=10),
                               tiny_text_model, text_db)
    con = connect(text_db, read_only=True)
    heads = con.execute("SELECT DISTINCT head FROM explain_heads WHERE run_id = ?", [summary.run_id]).fetchall()
    nn = con.execute("SELECT s.n_tokens, h.n_nodes FROM explain_heads h JOIN samples s USING (run_id, sample_id) "
                     "WHERE run_id = ?", [summary.run_id]).fetchall()
    bad = con.execute("SELECT count(*) FROM explanations e, unnest(e.positions) AS u(p) JOIN samples s "
                      "ON s.run_id = e.run_id AND s.sample_id = e.sample_id "
                      "WHERE e.run_id = ? AND (u.p < 1 OR u.p >= s.n_tokens)", [summary.run_id]).fetchall()[0][0]
    con.close()
    assert heads == [(-1,)] and bad == 0
    if nodes == "topk:3":
        assert all(n == min(4, t) for t, n in nn)
    else:  # tiny vocabulary: one piece per word, so words == tokens
        assert all(n == t for t, n in nn)


def test_movielens_run_holds_out_last_item(tmp_path, tiny_rec_model):
    db = make_rec_db(tmp_path / "r.duckdb")
    params = ExplainParams(corpus_kind="movielens", corpus_name="ml-tiny", num_samples=768)
    summary = explain.run_local(params, ExecParams(batch_size=2), tiny_rec_model, db)
    assert (summary.done, summary.failed) == (4, 0)
    con = connect(db, read_only=True)
    samples = con.execute("SELECT sample_id, label, n_tokens FROM samples ORDER BY CAST(sample_id AS INT)").fetchall()
    inter = con.execute("SELECT user_id, list(item_id ORDER BY ts) FROM interactions GROUP BY 1 ORDER BY 1").fetchall()
    special = con.execute("SELECT sample_id, pos FROM tokens WHERE is_special ORDER BY CAST(sample_id AS INT)").fetchall()
    ranks = con.execute("SELECT replacement_rank FROM explanations WHERE rank >= 1").fetchall()
    con.close()
    for (sid, label, n_tokens), (uid, items) in zip(samples, inter):
        assert sid == str(uid) and label == items[-1] and n_tokens == len(items)  # history (n-1) + predicted item
    assert special == [(s[0], s[2] - 1) for s in samples]
    assert all(r[0] is None or 1 <= r[0] <= 10 for r in ranks)
    assert np.isfinite(summary.seconds)


def test_attention_is_stored_only_on_request(text_db, tiny_text_model):
    plain = explain.run_local(PARAMS, ExecParams(limit=2), tiny_text_model, text_db)
    folder = text_db.with_name(text_db.name + ".staging") / plain.run_id / "attention"
    assert not folder.exists()
    explain.run_local(PARAMS, ExecParams(limit=3, store_attention=True), tiny_text_model, text_db)
    (saved,) = folder.glob("*.npz")  # only the one sample processed by this invocation
    con = connect(text_db, read_only=True)
    n = con.execute("SELECT n_tokens FROM samples WHERE sample_id = ?", [saved.stem]).fetchall()[0][0]
    con.close()
    assert np.load(saved)["attention"].shape == (2, n, n)


def test_sample_search_keeps_the_best_sets_with_fewer_passes(text_db, tiny_text_model):
    reference = PARAMS.with_(search="head", max_model_rows=None)
    assert '"search"' not in reference.to_json()  # earlier run ids stay valid
    per_head = explain.run_local(reference, ExecParams(batch_size=4), tiny_text_model, text_db)
    together = explain.run_local(reference.with_(search="sample"), ExecParams(batch_size=4), tiny_text_model, text_db)
    assert together.run_id != per_head.run_id and together.done == per_head.done == len(TEXTS)
    a, b = table_rows(text_db, per_head.run_id), table_rows(text_db, together.run_id)
    assert [r[1:] for r in a["graph_edges"]] == [r[1:] for r in b["graph_edges"]]
    con = connect(text_db, read_only=True)
    q = ("SELECT sample_id, positions, size, flipped_to FROM explanations WHERE run_id = ? AND rank = 0 "
         "ORDER BY sample_id")
    best_a, best_b = (con.execute(q, [r]).fetchall() for r in (per_head.run_id, together.run_id))
    passes = con.execute("SELECT run_id = ?, sum(forward_passes), sum(best_size) FROM samples "
                         "WHERE run_id IN (?, ?) GROUP BY 1 ORDER BY 1",
                         [per_head.run_id, per_head.run_id, together.run_id]).fetchall()
    head_rows = con.execute("SELECT run_id = ?, count(*) FROM explanations WHERE rank > 0 "
                            "AND run_id IN (?, ?) GROUP BY 1 ORDER BY 1",
                            [per_head.run_id, per_head.run_id, together.run_id]).fetchall()
    rows = con.execute("SELECT s.model_rows, (SELECT sum(tester_calls) FROM explain_heads h WHERE h.run_id = s.run_id "
                       "AND h.sample_id = s.sample_id) FROM samples s WHERE run_id = ?", [per_head.run_id]).fetchall()
    con.close()
    # rows run through the model: heads share verdicts, so never more than the sets handed over
    assert all(0 < m <= calls for m, calls in rows) and any(m < calls for m, calls in rows)
    assert best_a and best_a == best_b
    (_, passes_b, size_b), (_, passes_a, size_a) = passes
    assert size_a == size_b and passes_b < passes_a, (passes_a, passes_b)
    assert head_rows[0][1] <= head_rows[1][1]  # heads with larger minimal sets report none
    with pytest.raises(Exception, match="search"):
        PARAMS.with_(search="fastest")


def test_rows_match_the_snapshot_from_before_the_redesign(tmp_path, tiny_text_model, tiny_rec_model):
    """Issue 13: the staged-job redesign keeps every stored row (explain text + rec, evaluate).

    The snapshot was written by tests/pipeline/row_snapshot.py with the code of a289720.
    Compared by meaning (issue 20), so it holds on any machine: the run id as this run's id
    (and as the hash of the unchanged parameter JSON), floats within 1e-4, the rest exactly."""
    import json
    from pathlib import Path

    from row_snapshot import make_runs, snapshot_differences

    snap = json.loads((Path(__file__).parent / "data" / "rows_snapshot.json").read_text())
    runs = make_runs(tmp_path, tiny_text_model, tiny_rec_model)
    assert set(runs) == set(snap)
    differences = snapshot_differences(runs, snap)
    assert differences == [], f"{len(differences)} differences, first: " + "\n".join(differences[:10])


def test_prefect_yaml_deployments_hold_valid_typed_parameters():
    """The deployments' parameters are the flow's two typed objects; a typo would fail here."""
    from dataclasses import fields
    from pathlib import Path

    import yaml

    from cleann.pipeline.params import from_mapping

    spec = yaml.safe_load((Path(__file__).resolve().parents[2] / "prefect.yaml").read_text())
    for dep in spec["deployments"]:
        assert set(dep["parameters"]) == {"params", "execution"}, dep["name"]
        for cls, key in ((ExplainParams, "params"), (ExecParams, "execution")):
            assert set(dep["parameters"][key]) <= {f.name for f in fields(cls)}, (dep["name"], key)
            from_mapping(cls, dep["parameters"][key])
        assert dep["entrypoint"] == "flows/explain.py:explain_corpus"


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_explain_and_retry_print_machine_readable_summaries(tmp_path, tiny_text_model, capsys, fmt):
    """`--format json|csv`: stdout is only the summary (progress lines go to stderr)."""
    import csv
    import io
    import json

    from cleann.cli import main

    db = make_text_db(tmp_path / "m.duckdb", TEXTS[:3])
    common = ["--db", str(db), "--no-prefect", "--format", fmt]
    assert main(["explain", "imdb", "--corpus-name", "tiny", "--model", str(tiny_text_model),
                 "--num-samples", "768", "--max-set-size", "1", *common]) == 0
    out = capsys.readouterr().out
    row = json.loads(out) if fmt == "json" else next(csv.DictReader(io.StringIO(out)))
    assert row["status"] == "completed" and int(row["done"]) == 3 and len(row["run_id"]) == 16
    assert main(["retry", row["run_id"], *common]) == 0
    out = capsys.readouterr().out
    again = json.loads(out) if fmt == "json" else next(csv.DictReader(io.StringIO(out)))
    assert again["run_id"] == row["run_id"] and int(again["processed_now"]) == 0


def test_recommendation_runs_ignore_text_only_fields_in_their_run_id():
    """RecBackend ignores removal and max_length: they must not split MovieLens run ids,
    while text runs keep them (and the default rec id stays the one from before)."""
    from cleann.pipeline.params import run_id_for

    rec = ExplainParams(corpus_kind="movielens", corpus_name="ml-tiny")
    assert rec.with_(removal="mask", max_length=64).to_json() == rec.to_json()
    assert run_id_for(rec.with_(removal="delete"), "sha") == run_id_for(rec, "sha")
    assert '"removal":"pad"' in rec.to_json() and '"max_length":128' in rec.to_json()
    text = ExplainParams(corpus_name="tiny")
    assert run_id_for(text.with_(removal="mask"), "sha") != run_id_for(text, "sha")
    assert run_id_for(text.with_(max_length=64), "sha") != run_id_for(text, "sha")


def test_every_parameter_field_is_a_generated_option_that_reaches_the_dataclass():
    """Declared once: each field with a CLI option gets its flag from the field, and a value
    given on the command line arrives in the dataclass unchanged."""
    import argparse
    from dataclasses import fields

    from cleann.pipeline.params import add_explain_options, field_types, flag_of, option_of, params_from_args

    samples = {int: "7", float: "0.05", str: None, bool: None}
    for cls in (ExplainParams, ExecParams):
        for f in fields(cls):
            opt = option_of(f)
            if not opt.cli or opt.positional:
                continue
            assert opt.help, f"{cls.__name__}.{f.name} has no help text"
            base, _ = field_types(cls)[f.name]
            parser = argparse.ArgumentParser()
            add_explain_options(parser)
            if base is bool:
                argv, expected = [flag_of(f)], True
            elif base is str:
                choices = opt.choices(ExplainParams()) if callable(opt.choices) else opt.choices
                value = {"heads": "0,1", "nodes": "topk:3", "dask_address": "tcp://127.0.0.1:8786"}.get(
                    f.name, choices[-1] if choices else "x")
                argv, expected = [flag_of(f), value], value
            else:
                argv, expected = [flag_of(f), samples[base]], base(samples[base])
            args = parser.parse_args(["imdb", *argv])
            params, execution = params_from_args(args)
            assert getattr(params if cls is ExplainParams else execution, f.name) == expected, f.name
    # nothing given: the dataclasses' own defaults, not argparse's
    params, execution = params_from_args(argparse.ArgumentParser().parse_args([]), corpus_kind="imdb")
    assert params == ExplainParams() and execution == ExecParams()
