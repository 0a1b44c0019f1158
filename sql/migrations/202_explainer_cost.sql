-- 202_explainer_cost: every explainer's cost in typed columns, measured the same way
-- (cleann.explainers.base.Explainer.explain times the whole call; issue 11 item 6).
-- explainer_costs: one row per evaluated sample x explainer. seconds = wall clock of the
--   explanation INCLUDING the sample's share of the inference pass (infer_seconds), so
--   explainers that reuse the inference (attention, CLEANN) and those that do not compare
--   as a user pays them; graph/search/model seconds are parts of it (model = the model
--   work beyond inference: removal-tester rows, gradient passes); rows count sequences
--   through the model forward / gradients flowing back. status: ok | not_found | budget.
-- CLEANN's row is read from typed columns of its explain run, never from the
--   samples.stage_seconds JSON (the evaluation once read a key no longer written there and
--   under-reported CLEANN's cost): seconds = samples.seconds (inference share + graph +
--   search + tester), graph/search/model seconds = sums of explain_heads.graph_s /
--   search_s / tester_s over the sample's heads, forward_rows = samples.model_rows.
CREATE TABLE IF NOT EXISTS explainer_costs (
    run_id          VARCHAR NOT NULL,
    sample_id       VARCHAR NOT NULL,
    explainer       VARCHAR NOT NULL,
    status          VARCHAR,
    seconds         DOUBLE,
    infer_seconds   DOUBLE,
    graph_seconds   DOUBLE,
    search_seconds  DOUBLE,
    model_seconds   DOUBLE,
    forward_rows    BIGINT,
    backward_rows   BIGINT,
    PRIMARY KEY (run_id, sample_id, explainer)
);
