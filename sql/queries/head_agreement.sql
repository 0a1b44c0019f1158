-- name: head_agreement
-- description: Agreement between heads: for each pair of heads, the Jaccard index of their explanation sets (union of a head's accepted sets, ranks >= 1) per sample, averaged over samples where both heads found an explanation; the share of those samples with identical sets has its 95 % Wilson interval.
-- kind: any
-- params: run (default the latest run)
-- defaults:
WITH per_head AS (
    SELECT sample_id, head, list_distinct(flatten(list(positions))) AS pos
    FROM explanations
    WHERE run_id = $run AND explainer = 'cleann' AND rank >= 1
    GROUP BY sample_id, head
), pairs AS (
    SELECT a.head AS head_a, b.head AS head_b,
           len(list_intersect(a.pos, b.pos)) / len(list_distinct(list_concat(a.pos, b.pos))) AS jaccard
    FROM per_head a JOIN per_head b ON a.sample_id = b.sample_id AND a.head < b.head
)
SELECT head_a, head_b, count(*) AS n_samples,
       round(avg(jaccard), 4) AS mean_jaccard,
       round(count(*) FILTER (WHERE jaccard = 1) / count(*), 4) AS identical_share,
       round(wilson_low(count(*) FILTER (WHERE jaccard = 1), count(*)), 4) AS identical_low,
       round(wilson_high(count(*) FILTER (WHERE jaccard = 1), count(*)), 4) AS identical_high
FROM pairs
GROUP BY head_a, head_b
ORDER BY head_a, head_b;
