-- 101_pipeline: columns and a table the corpus pipeline (issue 5) needs beyond schema v1.
-- samples: per-stage seconds, all class probabilities, the per-sample best head/size,
--          forward passes spent by the tester, the staged batch the row came from.
-- explanations: the PDS-tree distance sum of the set and the per-sample best flag.
-- explain_heads: one row per sample x head (graph size, search effort, whether a set was
--          found), so per-head statistics include heads that found no explanation.
ALTER TABLE samples ADD COLUMN IF NOT EXISTS probs DOUBLE[];
ALTER TABLE samples ADD COLUMN IF NOT EXISTS truncated BOOLEAN;
ALTER TABLE samples ADD COLUMN IF NOT EXISTS infer_s DOUBLE;
ALTER TABLE samples ADD COLUMN IF NOT EXISTS explain_s DOUBLE;
ALTER TABLE samples ADD COLUMN IF NOT EXISTS tester_s DOUBLE;
ALTER TABLE samples ADD COLUMN IF NOT EXISTS forward_passes BIGINT;
ALTER TABLE samples ADD COLUMN IF NOT EXISTS best_head INTEGER;
ALTER TABLE samples ADD COLUMN IF NOT EXISTS best_size INTEGER;
ALTER TABLE samples ADD COLUMN IF NOT EXISTS batch_id VARCHAR;
ALTER TABLE explanations ADD COLUMN IF NOT EXISTS dist_sum BIGINT;
ALTER TABLE explanations ADD COLUMN IF NOT EXISTS is_best BOOLEAN;
CREATE TABLE IF NOT EXISTS explain_heads (
    run_id VARCHAR NOT NULL,
    sample_id VARCHAR NOT NULL,
    head INTEGER NOT NULL,          -- -1 = head-averaged attention
    n_nodes INTEGER,
    n_edges INTEGER,
    n_candidates INTEGER,           -- |F|: nodes of the PDS tree searched
    tester_calls BIGINT,
    n_explanations INTEGER,         -- 0 = no set changed the output
    min_size INTEGER,
    explain_s DOUBLE,               -- graph learning + search, tester time excluded
    tester_s DOUBLE,                -- forward passes inside the search
    PRIMARY KEY (run_id, sample_id, head)
);
