-- name: failures
-- description: Failed samples grouped by reason (the error's type and first line), with a count and up to three example sample ids.
-- kind: any
-- params: run (default the latest run)
-- defaults:
SELECT split_part(error, chr(10), 1) AS reason,
       count(*) AS n_samples,
       list(sample_id ORDER BY sample_id)[1:3] AS examples
FROM samples
WHERE run_id = $run AND status = 'failed'
GROUP BY reason
ORDER BY n_samples DESC, reason;
