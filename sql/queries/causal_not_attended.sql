-- name: causal_not_attended
-- description: Words causal far more often than they are most-attended. Over occurrences in samples with a best CLEANN set of k words: causal = in that set; attended = among the k words the set's head attends to most (from the target). Causal and attended rates with 95 % Wilson intervals, their gap with Newcombe's paired 95 % interval, base rate and lift; words whose causal rate exceeds their attended rate, ranked by the gap's lower bound.
-- kind: sentiment
-- params: run (default the latest sentiment run), min_support (default 5), min_causal (default 3), max_attended_rate (default 1), top (default 30)
-- defaults: min_support=5, min_causal=3, max_attended_rate=1, top=30
-- types: min_support=int 1..1000000000, min_causal=int 0..1000000000, max_attended_rate=float 0..1, top=int 1..1000000
WITH occ AS (
    SELECT w.word, w.in_explanation AS c, w.attended AS a, w.chance
    FROM words w
    JOIN samples s ON s.run_id = w.run_id AND s.sample_id = w.sample_id AND s.status = 'ok'
    WHERE w.run_id = $run AND w.has_explanation
), t AS (
    SELECT word, count(*) AS support,
           count(*) FILTER (WHERE c AND a) AS n11, count(*) FILTER (WHERE c AND NOT a) AS n10,
           count(*) FILTER (WHERE a AND NOT c) AS n01, count(*) FILTER (WHERE NOT a AND NOT c) AS n00,
           avg(chance) AS base_rate
    FROM occ
    GROUP BY word
)
SELECT word, support,
       n11 + n10 AS causal_count,
       round((n11 + n10) / support, 4) AS causal_rate,
       round(wilson_low(n11 + n10, support), 4) AS causal_low,
       round(wilson_high(n11 + n10, support), 4) AS causal_high,
       n11 + n01 AS attended_count,
       round((n11 + n01) / support, 4) AS attended_rate,
       round(wilson_low(n11 + n01, support), 4) AS attended_low,
       round(wilson_high(n11 + n01, support), 4) AS attended_high,
       round((n10 - n01) / support, 4) AS gap,
       round(newcombe_paired_low(n11, n10, n01, n00), 4) AS gap_low,
       round(newcombe_paired_high(n11, n10, n01, n00), 4) AS gap_high,
       round(base_rate, 4) AS base_rate,
       round((n11 + n10) / support / nullif(base_rate, 0), 2) AS lift
FROM t
WHERE support >= $min_support AND n11 + n10 >= $min_causal AND n10 > n01
  AND (n11 + n01) / support <= $max_attended_rate
ORDER BY newcombe_paired_low(n11, n10, n01, n00) DESC, causal_count DESC, word
LIMIT $top;
