-- name: runs
-- description: Explanation runs with their corpus, status, sample counts and mean seconds per sample (newest first); ignores --run.
-- kind: all
-- params: none
-- defaults:
SELECT r.run_id, r.kind, r.corpus, r.status, r.started_at, r.finished_at,
       count(s.sample_id) FILTER (WHERE s.status = 'ok') AS ok,
       count(s.sample_id) FILTER (WHERE s.status = 'failed') AS failed,
       round(avg(s.seconds), 3) AS seconds_per_sample,
       r.error
FROM runs r LEFT JOIN samples s USING (run_id)
WHERE r.kind IN ('sentiment', 'rec')
GROUP BY ALL
ORDER BY r.started_at DESC;
