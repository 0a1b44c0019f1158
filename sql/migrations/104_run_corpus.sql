-- 104_run_corpus: the corpus a run explains, as typed columns (issue 13), so SQL joins on
-- runs.corpus_name instead of splitting a packed string.
-- corpus_kind   imdb | movielens (ExplainParams.corpus_kind)
-- corpus_name   the corpus key of documents / interactions / items (e.g. ml-100k)
-- corpus_split  the split explained (test, train, all)
-- runs.corpus keeps the "kind:name:split" label (shown by `cleann query runs`, reports and
-- export manifests); code reads the typed columns. Rows stored before this migration are
-- backfilled from that label: kind before the first ':', split after the last one, the
-- name in between; a label not of that form leaves the three columns NULL.
ALTER TABLE runs ADD COLUMN IF NOT EXISTS corpus_kind VARCHAR;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS corpus_name VARCHAR;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS corpus_split VARCHAR;
UPDATE runs SET
    corpus_kind  = nullif(regexp_extract(corpus, '^([^:]+):(.+):([^:]+)$', 1), ''),
    corpus_name  = nullif(regexp_extract(corpus, '^([^:]+):(.+):([^:]+)$', 2), ''),
    corpus_split = nullif(regexp_extract(corpus, '^([^:]+):(.+):([^:]+)$', 3), '')
WHERE corpus_kind IS NULL AND corpus_name IS NULL AND corpus_split IS NULL AND corpus IS NOT NULL;
