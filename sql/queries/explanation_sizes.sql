-- name: explanation_sizes
-- description: Distribution of minimal explanation sizes per predicted class and per head (size NULL = no set changed the output; head -1 = head-averaged attention), with each share's 95 % Wilson interval.
-- kind: any
-- params: run (default the latest run)
-- defaults:
WITH c AS (
    SELECT s.pred AS predicted_class, h.head, h.min_size AS size, count(*) AS n_samples,
           sum(count(*)) OVER (PARTITION BY s.pred, h.head) AS n_total
    FROM explain_heads h
    JOIN samples s ON s.run_id = h.run_id AND s.sample_id = h.sample_id AND s.status = 'ok'
    WHERE h.run_id = $run
    GROUP BY s.pred, h.head, h.min_size
)
SELECT predicted_class, head, size, n_samples,
       round(n_samples / n_total, 4) AS share,
       round(wilson_low(n_samples, n_total), 4) AS share_low,
       round(wilson_high(n_samples, n_total), 4) AS share_high
FROM c
ORDER BY predicted_class, head, size NULLS LAST;
