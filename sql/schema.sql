-- cleann DuckDB schema, version 1.
-- Why: one file that every stage writes into and `cleann sql` reads. Later changes go in
-- sql/migrations/NNN_name.sql (001-099 foundation, 1xx pipeline, 2xx evaluation); each
-- applied version is recorded in schema_version. All run outputs are keyed by run_id so
-- runs can be compared, retried (delete by run_id + sample_id, re-insert) and dropped.
-- Conventions: head = -1 means "not per head" (aggregated over heads, or a baseline);
-- sample_id is the documents.doc_id for text runs, the user id as text for rec runs;
-- metrics.sample_id = '' holds run-level aggregates.

CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    name        VARCHAR NOT NULL,
    applied_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- Provenance of every ingest: one row per distinct content of a corpus.
CREATE TABLE IF NOT EXISTS sources (
    corpus          VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL,   -- offline | hf | aclimdb | csv | parquet | ml-1m | ml-100k
    location        VARCHAR NOT NULL,   -- path, hub id, or pinned package requirement:member
    version         VARCHAR,            -- package requirement, dataset fingerprint, ...
    package_sha256  VARCHAR,            -- sha256 of the pinned package file (offline sources)
    content_sha256  VARCHAR NOT NULL,   -- sha256 over the loaded rows: same content, same hash
    fetched_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    rows_total      BIGINT NOT NULL,    -- rows the source yielded (documents or interactions)
    rows_added      BIGINT NOT NULL,    -- rows new to the database at this ingest
    rows_skipped    BIGINT NOT NULL,    -- unusable input rows, counted, see details
    details         JSON,               -- per-table counts, skip reasons, example lines
    PRIMARY KEY (corpus, content_sha256)
);

CREATE TABLE IF NOT EXISTS documents (
    corpus  VARCHAR NOT NULL,
    doc_id  VARCHAR NOT NULL,           -- 16 hex digits: hash of corpus + source-native id
    split   VARCHAR NOT NULL CHECK (split IN ('train', 'test')),
    text    VARCHAR NOT NULL,
    label   INTEGER NOT NULL CHECK (label IN (0, 1)),  -- 1 positive, 0 negative
    source  VARCHAR NOT NULL,
    PRIMARY KEY (corpus, doc_id)
);

CREATE TABLE IF NOT EXISTS interactions (
    corpus   VARCHAR NOT NULL,
    user_id  BIGINT NOT NULL,
    item_id  BIGINT NOT NULL,
    rating   DOUBLE,
    ts       BIGINT NOT NULL,           -- unix seconds
    PRIMARY KEY (corpus, user_id, item_id, ts)
);

CREATE TABLE IF NOT EXISTS items (
    corpus   VARCHAR NOT NULL,
    item_id  BIGINT NOT NULL,
    title    VARCHAR NOT NULL,
    year     INTEGER,
    genres   VARCHAR[],
    PRIMARY KEY (corpus, item_id)
);

CREATE TABLE IF NOT EXISTS runs (
    run_id        VARCHAR PRIMARY KEY,
    flow_run_id   VARCHAR,
    kind          VARCHAR,              -- sentiment | rec | evaluate | train ...
    corpus        VARCHAR,
    model         VARCHAR,              -- checkpoint path or hub id
    model_sha256  VARCHAR,
    params        JSON,
    code_version  VARCHAR,
    started_at    TIMESTAMP,
    finished_at   TIMESTAMP,
    status        VARCHAR,              -- running | completed | failed | partial | interrupted (see 105)
    error         VARCHAR
);

CREATE TABLE IF NOT EXISTS samples (
    run_id         VARCHAR NOT NULL,
    sample_id      VARCHAR NOT NULL,
    label          BIGINT,              -- gold class (text) or held-out item (rec)
    pred           BIGINT,              -- predicted class (text) or top-1 item (rec)
    prob           DOUBLE,
    n_tokens       INTEGER,
    truncated      BOOLEAN,
    status         VARCHAR NOT NULL,    -- ok | failed (error says why)
    error          VARCHAR,
    seconds        DOUBLE,              -- wall time for the whole sample
    stage_seconds  JSON,                -- {"infer": .., "graph": .., "search": .., "tester": ..} (failed: infer only)
    PRIMARY KEY (run_id, sample_id)
);

CREATE TABLE IF NOT EXISTS tokens (
    run_id      VARCHAR NOT NULL,
    sample_id   VARCHAR NOT NULL,
    pos         INTEGER NOT NULL,       -- row/column index in the attention matrix
    token_id    BIGINT,                 -- vocabulary id (text) or item id (rec)
    token       VARCHAR,
    word_idx    INTEGER,
    is_special  BOOLEAN,
    PRIMARY KEY (run_id, sample_id, pos)
);

CREATE TABLE IF NOT EXISTS graph_edges (
    run_id     VARCHAR NOT NULL,
    sample_id  VARCHAR NOT NULL,
    head       INTEGER NOT NULL,
    src        INTEGER NOT NULL,        -- src < dst (positions)
    dst        INTEGER NOT NULL,
    mark_src   VARCHAR NOT NULL,        -- 'o' | '>' | '-'
    mark_dst   VARCHAR NOT NULL,
    PRIMARY KEY (run_id, sample_id, head, src, dst)
);

CREATE TABLE IF NOT EXISTS explanations (
    run_id            VARCHAR NOT NULL,
    sample_id         VARCHAR NOT NULL,
    head              INTEGER NOT NULL, -- -1: not per head
    explainer         VARCHAR NOT NULL, -- cleann | attention | rollout | gradxinput | ig ...
    rank              INTEGER NOT NULL, -- 0 = best
    positions         INTEGER[] NOT NULL,
    size              INTEGER NOT NULL,
    dist_sum          DOUBLE,
    tester_calls      INTEGER,
    flipped           BOOLEAN,
    flipped_to        BIGINT,           -- new class (text) or new top-1 item (rec)
    replacement_rank  INTEGER,          -- rank of the new top-1 in the original top-k
    PRIMARY KEY (run_id, sample_id, head, explainer, rank)
);

CREATE TABLE IF NOT EXISTS token_scores (
    run_id     VARCHAR NOT NULL,
    sample_id  VARCHAR NOT NULL,
    explainer  VARCHAR NOT NULL,
    pos        INTEGER NOT NULL,
    score      DOUBLE,
    PRIMARY KEY (run_id, sample_id, explainer, pos)
);

CREATE TABLE IF NOT EXISTS metrics (
    run_id     VARCHAR NOT NULL,
    sample_id  VARCHAR NOT NULL,        -- '' for run-level aggregates
    explainer  VARCHAR NOT NULL,
    metric     VARCHAR NOT NULL,
    value      DOUBLE,
    PRIMARY KEY (run_id, sample_id, explainer, metric)
);
