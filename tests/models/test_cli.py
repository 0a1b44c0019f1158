"""`cleann model eval` and `cleann train` on the command line: parsing, one-line errors, and
`--format table|csv|json` (json: stdout is one JSON document; csv: the same numbers as rows).
Tiny checkpoints only: no real model is trained here."""
import csv
import io
import json

import pandas as pd
import pytest

from cleann.cli import build_parser, main
from cleann.cli.model import REC_METRICS

POSITIVE, NEGATIVE = ["good", "great"], ["bad", "awful"]


def _out(argv, capsys) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


def _csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_train_and_eval_parse():
    parser = build_parser()
    args = parser.parse_args(["train", "bert4rec", "--force", "--max-minutes", "5"])
    assert args.model == "bert4rec" and args.force and args.max_minutes == 5.0 and args.format == "table"
    args = parser.parse_args(["model", "eval", "sentiment", "--model", "x", "--format", "json"])
    assert args.model == "sentiment" and args.model_path == "x" and args.format == "json"
    args = parser.parse_args(["model", "eval", "bert4rec", "--negatives", "uniform"])
    assert args.negatives == "uniform" and args.model_path is None and args.format == "table"


@pytest.mark.parametrize("argv", [["model", "eval", "sentiment", "--json"], ["train", "bert4rec", "--json"],
                                  ["model", "eval", "bert4rec", "--format", "markdown"]])
def test_one_output_vocabulary(argv, capsys):
    """--json is gone (one flag for every command); evaluate's markdown is not a model format."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ("unrecognized arguments: --json" in err[0] or "invalid choice: 'markdown'" in err[0])


def test_eval_without_default_model_is_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CLEANN_HOME", str(tmp_path))
    assert main(["model", "eval", "bert4rec", "--format", "json"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "cleann train bert4rec" in err[0] and captured.out == ""


@pytest.fixture
def offline_ml100k(monkeypatch):
    from cleann.sources import movielens

    rows = [(u, (u * 7 + t) % 150 + 1, t) for u in range(20) for t in range(12)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "ts"])
    monkeypatch.setattr(movielens, "load_offline_ml100k", lambda: (frame, None))
    return frame


def test_eval_bert4rec_formats(tmp_path, offline_ml100k, capsys):
    from cleann.models.tiny import make_tiny_bert4rec

    folder = make_tiny_bert4rec(tmp_path / "rec", n_items=150)
    argv = ["model", "eval", "bert4rec", "--model", str(folder)]
    doc = json.loads(_out([*argv, "--format", "json"], capsys))  # the whole stdout is one document
    assert doc["model"] == str(folder) and doc["corpus"] == "ml-100k"
    rows = _csv(_out([*argv, "--format", "csv"], capsys))
    assert [(r["negatives"], r["scorer"]) for r in rows] == [(how, s) for how in ("popularity", "uniform")
                                                            for s in ("model", "popularity")]
    for row in rows:
        metrics = doc["results"][row["negatives"]][row["scorer"]]
        assert row["model"] == str(folder) and int(row["users"]) == metrics["users"] == 20
        assert {k: float(row[k]) for k in REC_METRICS} == {k: metrics[k] for k in REC_METRICS}
        assert metrics["HR@1"] <= metrics["HR@5"] <= metrics["HR@10"]
    lines = _out(argv, capsys).strip().splitlines()
    assert lines[0].split() == ["negatives", "scorer", *REC_METRICS] and len(lines) == 5
    for line, row in zip(lines[1:], rows):
        assert line.split() == [row["negatives"], row["scorer"], *(f"{float(row[k]):.4f}" for k in REC_METRICS)]


def test_eval_sentiment_formats(tmp_path, monkeypatch, capsys):
    """A lexicon classifier on three made-up corpora: the expected accuracies follow from the
    lexicon rule (one row per corpus is labelled against it), and every format agrees."""
    from cleann.models.tiny import make_tiny_classifier
    from cleann.sources import text

    texts = {"pang_lee_sentences": [("good great", 1), ("bad", 0), ("awful bad", 0), ("good", 0)],
             "rt_snippets": [("great", 1), ("good bad good", 1), ("awful", 1)],
             "pang_lee_reviews": [("bad awful great", 0), ("good", 1)]}
    expected = {}
    for corpus, rows in texts.items():
        rule = [int(sum(w in POSITIVE for w in t.split()) > sum(w in NEGATIVE for w in t.split())) for t, _ in rows]
        expected[corpus] = sum(p == y for p, (_, y) in zip(rule, rows)) / len(rows)
    assert expected == pytest.approx({"pang_lee_sentences": 0.75, "rt_snippets": 2 / 3, "pang_lee_reviews": 1})

    def load_offline(name, *a, **k):
        rows = texts[name] + [("ignored train row", 1)]
        return pd.DataFrame({"doc_id": [f"{name}-{i}" for i in range(len(rows))], "corpus": name,
                             "text": [t for t, _ in rows], "label": [y for _, y in rows],
                             "split": ["test"] * (len(rows) - 1) + ["train"]})

    monkeypatch.setattr(text, "load_offline", load_offline)
    folder = make_tiny_classifier(tmp_path / "lex", positive_words=POSITIVE, negative_words=NEGATIVE,
                                  max_position_embeddings=24)
    argv = ["model", "eval", "sentiment", "--model", str(folder), "--max-length", "16"]
    doc = json.loads(_out([*argv, "--format", "json"], capsys))
    assert {c: v["accuracy"] for c, v in doc["per_corpus"].items()} == pytest.approx(expected, abs=1e-4)
    rows = _csv(_out([*argv, "--format", "csv"], capsys))
    assert list(rows[0]) == ["model", "corpus", "accuracy", "n"]
    assert {r["corpus"]: (float(r["accuracy"]), int(r["n"])) for r in rows} == {
        **{c: (v["accuracy"], v["n"]) for c, v in doc["per_corpus"].items()}, "all": (doc["accuracy"], 9)}
    lines = _out(argv, capsys).strip().splitlines()
    assert {line.split()[0]: line.split()[1] for line in lines} == {r["corpus"]: f"{float(r['accuracy']):.4f}"
                                                                   for r in rows}


def test_train_bert4rec_formats_report_the_cached_model(tmp_path, monkeypatch, offline_ml100k, capsys):
    """`cleann train bert4rec` with a cached model (trained here in seconds on 20 users): it
    is not retrained, and each format prints that model's card."""
    import cleann.flows.train as flows_train
    from cleann.models import bert4rec_train
    from cleann.models.default import default_bert4rec_dir
    from cleann.tasks.train import train_bert4rec_task

    monkeypatch.setenv("CLEANN_HOME", str(tmp_path))
    cfg = bert4rec_train.RecTrainConfig(hidden_size=16, max_len=16, epochs=2, batch_size=16, eval_every=1,
                                        num_negatives=5, threads=1)
    folder = bert4rec_train.train_and_save(default_bert4rec_dir(), offline_ml100k, "ml-100k", cfg,
                                           log=lambda s: None)
    card = json.loads((folder / "model_card.json").read_text())

    def no_training(*a, **k):
        raise AssertionError("the cached model must be reused")

    monkeypatch.setattr(bert4rec_train, "train_and_save", no_training)
    monkeypatch.setattr(flows_train, "train_bert4rec", train_bert4rec_task.fn)  # the task's body, no Prefect API
    doc = json.loads(_out(["train", "bert4rec", "--format", "json"], capsys))
    assert doc["path"] == str(folder) and doc["test"] == card["test"] and doc["best_epoch"] == card["best_epoch"]
    rows = _csv(_out(["train", "bert4rec", "--format", "csv"], capsys))
    assert len(rows) == 4 and {r["model"] for r in rows} == {str(folder)}
    for row in rows:
        assert float(row["MRR"]) == card["test"][row["negatives"]][row["scorer"]]["MRR"]
    lines = _out(["train", "bert4rec"], capsys).strip().splitlines()
    assert lines[0] == f"model: {folder}" and f"best epoch {card['best_epoch']}" in lines[1]
    assert lines[3].split()[:3] == ["negatives", "scorer", "HR@1"] and len(lines) == 8


def test_train_sentiment_formats(tmp_path, monkeypatch, capsys):
    """`cleann train sentiment` with a cached model: the card's per-corpus accuracy as rows."""
    import cleann.flows.train as flows_train
    from cleann.models import finetune
    from cleann.models.default import default_sentiment_dir
    from cleann.sources.artifacts import sha256_file
    from cleann.tasks.train import train_sentiment_task

    monkeypatch.setenv("CLEANN_HOME", str(tmp_path))
    folder = default_sentiment_dir()
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    accuracy = {"pang_lee_reviews": {"accuracy": 0.8, "n": 10}, "rt_snippets": {"accuracy": 0.5, "n": 30}}
    card = {"schedule_version": finetune.SCHEDULE_VERSION, "accuracy": accuracy, "steps": 7,
            "train_seconds": 1.5, "weights_sha256": sha256_file(folder / "model.safetensors")}
    (folder / "model_card.json").write_text(json.dumps(card))
    monkeypatch.setattr(finetune, "finetune_sentiment", lambda *a, **k: pytest.fail("retrained"))
    monkeypatch.setattr(flows_train, "train_sentiment", train_sentiment_task.fn)
    doc = json.loads(_out(["train", "sentiment", "--format", "json"], capsys))
    assert doc["accuracy"] == accuracy and doc["steps"] == 7 and doc["path"] == str(folder)
    rows = _csv(_out(["train", "sentiment", "--format", "csv"], capsys))
    assert [(r["corpus"], float(r["accuracy"]), int(r["n"])) for r in rows] == [
        ("pang_lee_reviews", 0.8, 10), ("rt_snippets", 0.5, 30), ("all", 0.575, 40)]
    table = _out(["train", "sentiment"], capsys)
    assert table.startswith(f"model: {folder}\ntrained in 1.5 s (7 steps, schedule v{finetune.SCHEDULE_VERSION})")
    assert "all                  0.5750  (n=40)" in table
