-- name: replacement_rank
-- description: Distribution of the replacement rank (rank of the new top-1 item in the original top-k after removing the best explanation; NULL = outside the top-k) over users, with the share, its 95 % Wilson interval and the cumulative share.
-- kind: rec
-- params: run (default the latest rec run)
-- defaults:
WITH c AS (
    SELECT replacement_rank, count(*) AS n_users, sum(count(*)) OVER () AS n_total
    FROM explanations
    WHERE run_id = $run AND explainer = 'cleann' AND rank = 0
    GROUP BY replacement_rank
)
SELECT replacement_rank, n_users,
       round(n_users / n_total, 4) AS share,
       round(wilson_low(n_users, n_total), 4) AS share_low,
       round(wilson_high(n_users, n_total), 4) AS share_high,
       round(sum(n_users) OVER (ORDER BY replacement_rank NULLS LAST) / n_total, 4) AS cumulative_share
FROM c
ORDER BY replacement_rank NULLS LAST;
