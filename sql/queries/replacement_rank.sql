-- name: replacement_rank
-- description: Distribution of the replacement rank (rank of the new top-1 item in the original top-k after removing the best explanation; NULL = outside the top-k) over users, with the share and cumulative share.
-- kind: rec
-- params: run (default the latest rec run)
-- defaults:
SELECT replacement_rank, count(*) AS n_users,
       round(count(*) / sum(count(*)) OVER (), 4) AS share,
       round(sum(count(*)) OVER (ORDER BY replacement_rank NULLS LAST) / sum(count(*)) OVER (), 4) AS cumulative_share
FROM explanations
WHERE run_id = $run AND explainer = 'cleann' AND rank = 0
GROUP BY replacement_rank
ORDER BY replacement_rank NULLS LAST;
