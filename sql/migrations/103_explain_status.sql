-- 103_explain_status: what CLEANN's search concluded for a processed sample (status 'ok'):
-- 'ok' (an explanation found), 'not_found' (every allowed set size searched, none changes the
-- output) or 'budget' (stopped by the per-sample model-row budget, max_model_rows), and why
-- when it is not 'ok'. NULL for samples stored before this column existed.
ALTER TABLE samples ADD COLUMN IF NOT EXISTS explain_status VARCHAR;
ALTER TABLE samples ADD COLUMN IF NOT EXISTS explain_reason VARCHAR;
