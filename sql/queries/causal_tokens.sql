-- name: causal_tokens
-- description: Words (pieces merged, case-folded) most often in the per-sample best CLEANN explanation, per predicted class: support (occurrences in the class's explained samples), causal count, causal rate with its 95 % Wilson interval, base rate (the chance of being in a random set of the explanation's size, averaged over the word's occurrences) and lift (causal rate / base rate); ranked by the interval's lower bound.
-- kind: sentiment
-- params: run (run id; default the latest sentiment run), min_support (default 5), top (rows per class, default 20)
-- defaults: min_support=5, top=20
-- types: min_support=int 1..1000000000, top=int 1..1000000
WITH occ AS (
    SELECT s.pred, w.word, w.in_explanation, w.chance
    FROM words w
    JOIN samples s ON s.run_id = w.run_id AND s.sample_id = w.sample_id AND s.status = 'ok'
    WHERE w.run_id = $run
), agg AS (
    SELECT pred AS predicted_class, word, count(*) AS support,
           count(*) FILTER (WHERE in_explanation) AS causal_count,
           avg(chance) AS base_rate
    FROM occ
    GROUP BY pred, word
    HAVING count(*) >= $min_support AND count(*) FILTER (WHERE in_explanation) > 0
)
SELECT predicted_class, word, support, causal_count,
       round(causal_count / support, 4) AS causal_rate,
       round(wilson_low(causal_count, support), 4) AS rate_low,
       round(wilson_high(causal_count, support), 4) AS rate_high,
       round(base_rate, 4) AS base_rate,
       round(causal_count / support / nullif(base_rate, 0), 2) AS lift
FROM agg
QUALIFY row_number() OVER (PARTITION BY predicted_class
                           ORDER BY wilson_low(causal_count, support) DESC, causal_count DESC, word) <= $top
ORDER BY predicted_class, rate_low DESC, causal_count DESC, word;
