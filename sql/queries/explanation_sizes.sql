-- name: explanation_sizes
-- description: Distribution of minimal explanation sizes per predicted class and per head (size NULL = no set changed the output; head -1 = head-averaged attention).
-- kind: any
-- params: run (default the latest run)
-- defaults:
SELECT s.pred AS predicted_class, h.head, h.min_size AS size,
       count(*) AS n_samples,
       round(count(*) / sum(count(*)) OVER (PARTITION BY s.pred, h.head), 4) AS share
FROM explain_heads h
JOIN samples s ON s.run_id = h.run_id AND s.sample_id = h.sample_id AND s.status = 'ok'
WHERE h.run_id = $run
GROUP BY s.pred, h.head, h.min_size
ORDER BY predicted_class, h.head, size NULLS LAST;
