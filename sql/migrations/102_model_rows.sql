-- 102_model_rows: samples.model_rows = candidate removals actually run through the model
-- for the sample (distinct sets; heads share verdicts, so this is at most the sum of
-- explain_heads.tester_calls, which counts every set a head handed to the tester).
ALTER TABLE samples ADD COLUMN IF NOT EXISTS model_rows BIGINT;
