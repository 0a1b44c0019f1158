"""Which samples a run processes: a deterministic slice of the corpus, minus what is done.

Why the limit comes first: ``--limit N`` names "the first N samples of the split" (by id),
so re-running with the same limit selects nothing new, and a larger limit extends the
same run. Samples already in `samples` for this run are skipped (failed ones too, unless
retrying, which selects only the failed ones).

Text corpora: rows of `documents` (sample_id = doc_id). MovieLens: one sample per user of
`interactions` (sample_id = user id); the history is the user's items by time; for
``split='test'`` the last item is held out as the label (the next item to predict).
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from cleann.config import default_db_path
from cleann.errors import BadInputError, shorten
from cleann.pipeline.params import ExplainParams
from cleann.store.runs import open_db

OFFLINE_REC = ("ml-100k",)


def corpus_rows(con: duckdb.DuckDBPyConnection, params: ExplainParams) -> int:
    """Rows of the run's corpus in the database (documents, or interactions for MovieLens)."""
    table = "documents" if params.corpus_kind == "imdb" else "interactions"
    return int(con.execute(f"SELECT count(*) FROM {table} WHERE corpus = ?", [params.corpus_name]).fetchall()[0][0])


def offline_names(kind: str) -> tuple[str, ...]:
    """Corpora that are fetched and ingested on first use."""
    if kind != "imdb":
        return OFFLINE_REC
    from cleann.sources.text import OFFLINE_CORPORA

    return tuple(OFFLINE_CORPORA)


def check_corpus(db_path: str | Path | None, params: ExplainParams) -> None:
    """Refuse an unknown corpus name before anything starts: it must be in the database
    or be a known offline corpus."""
    if params.corpus_name in offline_names(params.corpus_kind):
        return
    path = Path(db_path) if db_path else default_db_path()
    n = 0
    if path.exists():
        with open_db(path, read_only=True) as con:
            n = corpus_rows(con, params)
    if not n:
        table = "documents" if params.corpus_kind == "imdb" else "interactions"
        raise BadInputError(
            f"--corpus-name {shorten(params.corpus_name)!r}: no rows in table {table} of {path}; ingest it "
            f"first (`cleann ingest`), or use an offline corpus: {', '.join(offline_names(params.corpus_kind))}")


def ensure_corpus(db_path: str | Path | None, params: ExplainParams) -> int:
    """Rows of the run's corpus; a known offline corpus is fetched (without holding the
    database) and then ingested in one short write on first use."""
    with open_db(db_path) as con:
        n = corpus_rows(con, params)
    if n:
        return n
    check_corpus(db_path, params)
    from cleann.store.db import ingest_documents, ingest_movielens

    if params.corpus_kind == "imdb":
        from cleann.sources.text import load_offline

        frames, ingest = (load_offline(params.corpus_name),), ingest_documents
    else:
        from cleann.sources.movielens import load_offline_ml100k

        frames, ingest = load_offline_ml100k(), ingest_movielens
    with open_db(db_path) as con:
        if not corpus_rows(con, params):  # another invocation may have ingested meanwhile
            ingest(con, *frames)
        n = corpus_rows(con, params)
    if not n:
        raise BadInputError(f"corpus {params.corpus_name!r} has no rows after ingesting it")
    return n


def select_samples(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    params: ExplainParams,
    limit: int | None,
    retry_failed: bool = False,
) -> pd.DataFrame:
    """Pending samples: ``sample_id``, ``label`` and ``text`` or ``history`` (list of item ids)."""
    if retry_failed:
        done_filter = "s.sample_id IN (SELECT sample_id FROM samples WHERE run_id = $run AND status = 'failed')"
    else:
        done_filter = "s.sample_id NOT IN (SELECT sample_id FROM samples WHERE run_id = $run)"
    lim = "" if limit is None else f"LIMIT {int(limit)}"
    args = {"run": run_id, "corpus": params.corpus_name}
    if params.corpus_kind == "imdb":
        args["split"] = params.split
        sql = f"""
            WITH s AS (SELECT doc_id AS sample_id, text, label FROM documents
                       WHERE corpus = $corpus AND (split = $split OR $split = 'all')
                       ORDER BY doc_id {lim})
            SELECT * FROM s WHERE {done_filter} ORDER BY sample_id"""
    else:
        hold_out = params.split == "test"
        sql = f"""
            WITH u AS (SELECT DISTINCT user_id FROM interactions WHERE corpus = $corpus
                       ORDER BY user_id {lim}),
            seq AS (SELECT i.user_id, list(i.item_id ORDER BY i.ts, i.item_id) AS items
                    FROM interactions i JOIN u USING (user_id) WHERE i.corpus = $corpus GROUP BY i.user_id),
            s AS (SELECT CAST(user_id AS VARCHAR) AS sample_id,
                         CASE WHEN {hold_out} THEN items[1:len(items) - 1] ELSE items END AS history,
                         CASE WHEN {hold_out} THEN items[len(items)] END AS label
                  FROM seq)
            SELECT * FROM s WHERE {done_filter} ORDER BY CAST(sample_id AS BIGINT)"""
    return con.execute(sql, args).df()

