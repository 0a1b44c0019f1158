-- 201_evaluation: what `cleann evaluate` (issue 6) stores beyond schema v1.
-- evaluations: one row per evaluated explain run (run_id of the CLEANN run whose samples
--   were evaluated): which explainers, the evaluation settings, when, on what machine and
--   by which command, so the report and README can name them. Per-sample numbers live in
--   `metrics` (sample_id = '' for run-level aggregates), baseline scores in `token_scores`,
--   baselines' smallest flipping top-k sets in `explanations` (explainer != 'cleann').
CREATE TABLE IF NOT EXISTS evaluations (
    run_id       VARCHAR PRIMARY KEY,
    explainers   VARCHAR[],
    settings     JSON,
    machine      VARCHAR,
    command      VARCHAR,
    started_at   TIMESTAMP,
    finished_at  TIMESTAMP,
    n_samples    INTEGER
);
