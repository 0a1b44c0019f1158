"""`cleann demo`: the README's main job, end to end on the embedded offline default.

Fetch the pinned corpora and ingest them, train the default models once (reused after),
explain a default-sized slice of the review snippets and of the ml-100k users and
compare CLEANN with cheap baselines on them (the `evaluate_corpus` flow, which runs
`explain_corpus` first), print the main queries, then what a person wants to see: three
explained snippets with their causal words marked next to the words the model attends
to most, the self-contained HTML report of both runs, and the commands to go on.
Re-running resumes: finished samples are skipped and the models are cached, so a second
demo is quick.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

MAIN_QUERIES = {
    "sentiment": [("causal_tokens", {"top": 5, "min_support": 1}), ("causal_not_attended", {"top": 5, "min_causal": 1}),
                  ("head_agreement", {})],
    "rec": [("rec_causal_movies", {"top": 5, "min_support": 2}), ("rec_causal_genres", {"min_support": 2}),
            ("replacement_rank", {})],
}
# Baselines cheap enough for the demo (oracle and SHAP are available in `cleann evaluate`).
DEMO_EXPLAINERS = "cleann,attention,rollout,gxi,ig"
KIND_LABEL = {"imdb": "reviews", "movielens": "movielens"}
CLASS_NAMES = {0: "negative", 1: "positive"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the whole default job: ingest, train once, explain, evaluate, report",
        description="Ingest the offline corpora, train (or reuse) the default models, explain a slice of the "
                    "review snippets and of the ml-100k users and compare CLEANN with cheap baselines on them, "
                    "then print explained snippets, write the HTML report and print the commands to go on.")
    parser.add_argument("--db", default=None, help="database file (default ./cleann.duckdb or $CLEANN_DB)")
    parser.add_argument("--reviews", type=int, default=20, help="review snippets to explain (default 20)")
    parser.add_argument("--users", type=int, default=50, help="ml-100k users to explain (default 50)")
    parser.add_argument("--heads", default="all", help="all | mean | comma list (default all)")
    parser.add_argument("--max-set-size", type=int, default=2,
                        help="largest explanation searched (default 2: bounds the tester's forward passes)")
    parser.add_argument("--text-nodes", default="topk:12",
                        help="node selection for reviews (default topk:12: the 12 tokens [CLS] attends to most)")
    parser.add_argument("--rec-nodes", default="topk:16",
                        help="node selection for MovieLens histories (default topk:16; histories reach 200 items)")
    parser.add_argument("--explainers", default=DEMO_EXPLAINERS,
                        help=f"explainers compared in the report (default {DEMO_EXPLAINERS})")
    parser.add_argument("--report-dir", default=None,
                        help="folder for the HTML reports (default: the database's folder)")
    parser.add_argument("--runner", choices=["threads", "processes", "dask"], default="threads")
    parser.add_argument("--no-prefect", action="store_true", help="run the explain steps without Prefect")
    from cleann.cli._exit import add_exit_codes

    add_exit_codes(parser)
    parser.set_defaults(handler=run)


def ingest_defaults(db: str | None) -> None:
    """Ingest the offline corpora through the flow and print what happened and the counts."""
    from contextlib import closing

    from cleann.cli.ingest import print_results
    from cleann.flows.ingest import ingest_offline_defaults
    from cleann.store.db import connect
    from cleann.store.db import document_summary, movielens_summary

    print_results(ingest_offline_defaults(db))
    with closing(connect(db, read_only=True)) as con:
        documents, movielens = document_summary(con), movielens_summary(con)
    print("\ndocuments:")
    print(documents.to_string(index=False))
    print("\nmovielens:")
    print(movielens.to_string(index=False))


def default_models() -> dict[str, str]:
    """Paths of the embedded default models per corpus kind (trained once, then cached)."""
    from cleann.models.default import ensure_default_models

    sentiment, bert4rec = ensure_default_models()
    return {"imdb": str(sentiment), "movielens": str(bert4rec)}


def _step(text: str) -> None:
    print(f"\n== {text}", file=sys.stderr, flush=True)


def _show_queries(db: str | None, kind: str, run_id: str) -> None:
    from cleann.store.queries import run_query
    from cleann.cli._output import format_frame

    for name, params in MAIN_QUERIES[kind]:
        print(f"\n-- cleann query {name} --run {run_id}")
        print(format_frame(run_query(name, db, run_id, params), max_rows=10))


# --- explained snippets in the terminal -------------------------------------------------

def use_colour(stream=None) -> bool:
    """ANSI colour only for a terminal, and never when NO_COLOR is set (no-color.org)."""
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("NO_COLOR")


def _mark(word: str, colour: bool) -> str:
    return f"\033[1;30;43m{word}\033[0m" if colour else f"[{word}]"


def _attended(word: str, colour: bool) -> str:
    return f"\033[36m{word}\033[0m" if colour else word


def explained_examples(con, run_id: str, n: int = 3, n_attended: int = 3) -> list[dict]:
    """Up to ``n`` explained samples of a text run, as words with causal and attention marks.

    Preferred: samples whose causal words are not simply the most-attended ones (the
    point CLEANN makes), then short texts, then by id (deterministic). Each dict has
    ``sample_id``, ``pred``, ``label``, ``prob``, ``head``, ``words`` (list of
    ``(word, causal)``) and ``attended`` (the ``n_attended`` most-attended words, best
    first, each ``(word, causal)``).
    """
    rows = con.execute("""
        SELECT s.sample_id, s.pred, s.label, s.prob, e.head, e.positions, h.top_attended
        FROM samples s
        JOIN explanations e ON e.run_id = s.run_id AND e.sample_id = s.sample_id
             AND e.explainer = 'cleann' AND e.rank = 0 AND e.head = s.best_head
        LEFT JOIN explain_heads h ON h.run_id = e.run_id AND h.sample_id = e.sample_id AND h.head = e.head
        WHERE s.run_id = ? AND s.status = 'ok'
        ORDER BY s.n_tokens, s.sample_id""", [run_id]).fetchall()
    examples = []
    for sample_id, pred, label, prob, head, positions, top in rows:
        tokens = con.execute("SELECT pos, token, word_idx, is_special FROM tokens "
                             "WHERE run_id = ? AND sample_id = ? ORDER BY pos", [run_id, sample_id]).fetchall()
        causal_pos = set(int(p) for p in positions)
        words: list[list] = []  # [text, causal, positions]
        word_of: dict[int, int] = {}
        last = None
        for pos, token, word_idx, special in tokens:
            if special:
                continue
            piece = str(token)
            if word_idx is not None and word_idx == last and words:
                words[-1][0] += piece[2:] if piece.startswith("##") else piece
                words[-1][2].append(int(pos))
            else:
                words.append([piece, False, [int(pos)]])
            last = word_idx
            word_of[int(pos)] = len(words) - 1
            if int(pos) in causal_pos:
                words[-1][1] = True
        attended: list[int] = []
        for p in (top or []):
            w = word_of.get(int(p))
            if w is not None and w not in attended:
                attended.append(w)
        attended = attended[:n_attended]
        causal = {i for i, w in enumerate(words) if w[1]}
        examples.append({
            "sample_id": sample_id, "pred": pred, "label": label, "prob": prob, "head": head,
            "words": [(w[0], w[1]) for w in words],
            "attended": [(words[i][0], words[i][1]) for i in attended],
            "_differs": not causal <= set(attended),
        })
    examples.sort(key=lambda e: (not e["_differs"], len(e["words"]) > 40))
    return [{k: v for k, v in e.items() if k != "_differs"} for e in examples[:n]]


def _join(words: list[str]) -> str:
    """Words back to readable text: no space before punctuation, "it ' s" -> "it's"."""
    import re

    text = " ".join(words)
    for p in (" .", " ,", " !", " ?", " ;", " :", " )"):
        text = text.replace(p, p[1:])
    text = re.sub(r" (\S*'\S*) (s|t|ll|re|ve|d|m)\b", r"\1\2", text)
    return text.replace("( ", "(")


def format_example(example: dict, colour: bool = False) -> str:
    """Two lines: the text with causal words marked; the most-attended words beside them."""
    text = _join([_mark(w, colour) if causal else w for w, causal in example["words"]])
    pred = example["pred"]
    name = CLASS_NAMES.get(int(pred), str(pred)) if pred is not None else "?"
    prob = f" p={example['prob']:.2f}" if example.get("prob") is not None else ""
    causal = [w for w, c in example["words"] if c]
    attended = ", ".join(_mark(w, colour) if c else _attended(w, colour) for w, c in example["attended"])
    return (f"  {name}{prob}: {text}\n"
            f"      causal ({len(causal)}): {', '.join(causal)}   |   most attended (head {example['head']}): "
            f"{attended}")


def print_examples(db: str | None, run_id: str, n: int = 3) -> int:
    """Print up to ``n`` explained snippets of ``run_id``; returns how many were printed."""
    from cleann.config import default_db_path
    from cleann.store.runs import open_db

    with open_db(db or default_db_path(), read_only=True) as con:
        examples = explained_examples(con, run_id, n)
    colour = use_colour()
    marked = "highlighted" if colour else "in [brackets]"
    print(f"\nExplained snippets (run {run_id}): the words CLEANN finds causal are {marked}; removing them "
          f"changes the prediction. Beside them, the words the same head attends to most.")
    if not examples:
        print("  (no snippet of this run has an explanation within the searched size)")
    for example in examples:
        print(format_example(example, colour))
    return len(examples)


# --- report and next steps ---------------------------------------------------------------

def write_reports(db: str | None, run_ids: dict[str, str], folder: Path) -> dict[str, Path]:
    """One self-contained HTML report per run (`cleann report`); returns the written paths."""
    from cleann.config import default_db_path
    from cleann.errors import CleannError
    from cleann.report import write_report

    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for kind, run_id in run_ids.items():
        path = folder / f"cleann-report-{KIND_LABEL[kind]}.html"
        try:
            written[kind] = write_report(run_id, path, db or default_db_path())
        except CleannError as exc:  # e.g. an evaluation that stored no metrics
            print(f"report for run {run_id} not written: {exc}", file=sys.stderr)
    return written


def next_commands(run_ids: dict[str, str], reports: dict[str, Path], db: str | None) -> list[str]:
    dbopt = f" --db {db}" if db else ""
    reviews = run_ids.get("imdb", "RUN_ID")
    lines = ["next:"]
    for kind, path in reports.items():
        lines.append(f"  open the report    {path.resolve().as_uri()}")
    lines += [
        f"  corpus queries     cleann query --list;  cleann query causal_tokens --run {reviews}{dbopt}",
        f"  one snippet        cleann explain imdb --limit 500{dbopt}   (resumes and extends the same run)",
        f"  vs baselines       cleann evaluate imdb --limit 100 --explainers cleann,ig,shap,oracle{dbopt}",
        f"  a report           cleann report {reviews} -o report.html{dbopt}",
        "  your own model     cleann explain imdb --model PATH_OR_HUB_ID --corpus-name NAME",
        "  model accuracy     cleann model eval sentiment;  cleann model eval bert4rec",
    ]
    return lines


def _kind_params(args: argparse.Namespace, kind: str, model: str | None = None):
    """The explain parameters of the demo's run of ``kind`` (validated: BadInputError)."""
    from cleann.pipeline.params import params_from_kwargs

    return params_from_kwargs({
        "corpus_kind": kind, "limit": args.reviews if kind == "imdb" else args.users, "batch_size": 4,
        "heads": args.heads, "model": model, "db": args.db, "runner": args.runner,
        "max_set_size": args.max_set_size, "nodes": args.text_nodes if kind == "imdb" else args.rec_nodes,
    })


def check_options(args: argparse.Namespace) -> None:
    """Every option, before the first flow starts (issue 22): the database is a cleann
    database (or new), the explain parameters of both runs, the explainers, the report folder."""
    from cleann.cli._checks import check_db_writable
    from cleann.config import default_db_path
    from cleann.errors import BadInputError
    from cleann.metrics.settings import parse_explainers

    check_db_writable(args.db or default_db_path())
    for kind in ("imdb", "movielens"):
        _kind_params(args, kind)
        parse_explainers(args.explainers, kind)
    if args.report_dir is not None:
        folder = Path(args.report_dir).expanduser()
        if folder.exists() and not folder.is_dir():
            raise BadInputError(f"--report-dir {folder}: is a file, not a folder")


def run(args: argparse.Namespace) -> int:
    """The demo; Ctrl-C stops it at once (one line, exit 130, its runs marked interrupted)."""
    from cleann.cli._interrupt import stop_job_on_interrupt

    with stop_job_on_interrupt(args.db):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    import shlex

    from cleann.cli._exit import evaluate_code, worst
    from cleann.cli._jobs import run_evaluate
    from cleann.metrics.settings import EvalSettings, parse_explainers
    from cleann.pipeline.explain import summary_lines

    started = time.perf_counter()
    db = None if args.db is None else str(args.db)
    check_options(args)
    _step("1/5 fetch and ingest the offline corpora (Prefect flow ingest_offline_defaults)")
    ingest_defaults(db)

    _step("2/5 default models (trained once into the cache, then reused)")
    models = default_models()
    print(f"sentiment model: {models['imdb']}\nBERT4Rec model:  {models['movielens']}")

    summaries, run_ids, codes = {}, {}, []
    command = "cleann " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["demo"] \
        else "cleann demo"
    for kind, limit in (("imdb", args.reviews), ("movielens", args.users)):
        what = "review snippets" if kind == "imdb" else "ml-100k users"
        _step(f"3/5 explain {limit} {what} (heads={args.heads}) and compare with {args.explainers}")
        params, execution = _kind_params(args, kind, models[kind])
        settings = EvalSettings(explainers=parse_explainers(args.explainers, kind), max_k=params.max_set_size)
        result = run_evaluate(params, execution, settings, command, use_prefect=not args.no_prefect)
        summaries[kind], run_ids[kind] = result["explain"], result["run_id"]
        codes.append(evaluate_code(result))
        print("\n".join(summary_lines(summaries[kind])))

    _step("4/5 main queries")
    _show_queries(db, "sentiment", run_ids["imdb"])
    _show_queries(db, "rec", run_ids["movielens"])

    _step("5/5 explained snippets, HTML report")
    print("\n" + "=" * 72)
    print_examples(db, run_ids["imdb"])
    from cleann.config import default_db_path

    folder = Path(args.report_dir) if args.report_dir else Path(db or default_db_path()).resolve().parent
    reports = write_reports(db, run_ids, folder)
    print()
    for kind, path in reports.items():
        print(f"report ({KIND_LABEL[kind]}): {path}")
    print(f"\ncleann demo finished in {time.perf_counter() - started:.0f} s; database: {db or default_db_path()}")
    for kind, s in summaries.items():
        print(f"  {KIND_LABEL[kind]:<9} run {s['run_id']}: {s['done']} ok, {s['failed']} failed, status {s['status']}")
    print("\n".join(next_commands(run_ids, reports, db)))
    return worst(codes)
