-- 101_pipeline: what the corpus pipeline (issue 5) stores beyond schema v1.
-- samples: all class probabilities, forward passes spent by the tester, the per-sample
--          best head and explanation size, the staged batch the row came from.
--          (Per-stage seconds live in samples.stage_seconds JSON:
--          {"infer": .., "graph": .., "search": .., "tester": ..} seconds for the sample,
--          "infer" being its share of the batched forward pass.)
-- explain_heads: one row per sample x head (graph size, search effort, whether any set
--          was found, the most-attended positions), so per-head statistics include heads
--          that found no explanation and causal tokens can be compared with attention
--          without storing attention matrices.
ALTER TABLE samples ADD COLUMN IF NOT EXISTS probs DOUBLE[];
ALTER TABLE samples ADD COLUMN IF NOT EXISTS forward_passes BIGINT;
ALTER TABLE samples ADD COLUMN IF NOT EXISTS best_head INTEGER;
ALTER TABLE samples ADD COLUMN IF NOT EXISTS best_size INTEGER;
ALTER TABLE samples ADD COLUMN IF NOT EXISTS batch_id VARCHAR;
CREATE TABLE IF NOT EXISTS explain_heads (
    run_id          VARCHAR NOT NULL,
    sample_id       VARCHAR NOT NULL,
    head            INTEGER NOT NULL,   -- -1 = head-averaged attention (heads=mean)
    n_nodes         INTEGER,
    n_edges         INTEGER,
    n_candidates    INTEGER,            -- |F|: nodes of the PDS tree searched
    tester_calls    BIGINT,
    n_explanations  INTEGER,            -- 0 = no set changed the output
    min_size        INTEGER,
    graph_s         DOUBLE,             -- graph learning (correlation, CI tests, ICD/FCI)
    search_s        DOUBLE,             -- PDS-tree search, tester time excluded
    tester_s        DOUBLE,             -- the tester's forward passes inside the search
    top_attended    INTEGER[],          -- the 10 positions the target attends to most, best first
    PRIMARY KEY (run_id, sample_id, head)
);
