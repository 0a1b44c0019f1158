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

import duckdb
import pandas as pd

from cleann.errors import BadInputError
from cleann.pipeline.params import ExplainParams

MOVIELENS_SPLITS = ("test", "all")


def ensure_corpus(con: duckdb.DuckDBPyConnection, params: ExplainParams) -> int:
    """Number of rows for the corpus; ingests a known offline corpus on first use."""
    table = "documents" if params.corpus_kind == "imdb" else "interactions"
    n = con.execute(f"SELECT count(*) FROM {table} WHERE corpus = ?", [params.corpus_name]).fetchall()[0][0]
    if n:
        return int(n)
    from cleann.pipeline.ingest_bridge import ingest_offline

    ingest_offline(con, params.corpus_kind, params.corpus_name)
    n = con.execute(f"SELECT count(*) FROM {table} WHERE corpus = ?", [params.corpus_name]).fetchall()[0][0]
    if not n:
        raise BadInputError(f"corpus {params.corpus_name!r} has no rows in table {table}; ingest it first")
    return int(n)


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
        if params.split not in MOVIELENS_SPLITS:
            raise BadInputError(f"MovieLens split {params.split!r}: use one of {', '.join(MOVIELENS_SPLITS)}")
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

