"""The train/eval command lines parse and fail as one-line errors (no training here)."""
import json

from cleann.cli import build_parser, main


def test_train_and_eval_parse():
    parser = build_parser()
    args = parser.parse_args(["train", "bert4rec", "--force", "--max-minutes", "5"])
    assert args.model == "bert4rec" and args.force and args.max_minutes == 5.0
    args = parser.parse_args(["model", "eval", "sentiment", "--model", "x", "--json"])
    assert args.model == "sentiment" and args.model_path == "x" and args.json
    args = parser.parse_args(["model", "eval", "bert4rec", "--negatives", "uniform"])
    assert args.negatives == "uniform" and args.model_path is None


def test_eval_without_default_model_is_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CLEANN_HOME", str(tmp_path))
    assert main(["model", "eval", "bert4rec", "--json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cleann train bert4rec" in err[0]


def test_eval_bert4rec_json_on_last_line(tmp_path, monkeypatch, capsys):
    import pandas as pd

    from cleann.models.tiny import make_tiny_bert4rec
    from cleann.sources import movielens

    rows = [(u, (u * 7 + t) % 150 + 1, t) for u in range(20) for t in range(12)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "ts"])
    monkeypatch.setattr(movielens, "load_offline_ml100k", lambda: (frame, None))
    folder = make_tiny_bert4rec(tmp_path / "rec", n_items=150)
    assert main(["model", "eval", "bert4rec", "--model", str(folder)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for how in ("popularity", "uniform"):
        for scorer in ("model", "popularity"):
            assert set(out["results"][how][scorer]) >= {"HR@1", "HR@5", "HR@10", "NDCG@5",
                                                       "NDCG@10", "MRR"}
