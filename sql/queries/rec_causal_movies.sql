-- name: rec_causal_movies
-- description: Movies most often in the per-user best explanation of the top-1 recommendation: support (users whose history contains the movie), causal count, causal rate with its 95 % Wilson interval, base rate (chance of being in a random set of the explanation's size) and lift; ranked by the interval's lower bound.
-- kind: rec
-- params: run (default the latest rec run), min_support (default 5), top (default 20)
-- defaults: min_support=5, top=20
-- types: min_support=int 1..1000000000, top=int 1..1000000
WITH r AS (SELECT corpus_name AS corpus FROM runs WHERE run_id = $run),
occ AS (
    SELECT t.token_id AS item_id, w.in_explanation AS causal, w.chance
    FROM words w
    JOIN samples s ON s.run_id = w.run_id AND s.sample_id = w.sample_id AND s.status = 'ok'
    JOIN tokens t ON t.run_id = w.run_id AND t.sample_id = w.sample_id AND t.pos = w.positions[1]
    WHERE w.run_id = $run
), agg AS (
    SELECT item_id, count(*) AS support, count(*) FILTER (WHERE causal) AS causal_count, avg(chance) AS base_rate
    FROM occ
    GROUP BY item_id
    HAVING count(*) >= $min_support AND count(*) FILTER (WHERE causal) > 0
)
SELECT a.item_id, i.title, a.support, a.causal_count,
       round(a.causal_count / a.support, 4) AS causal_rate,
       round(wilson_low(a.causal_count, a.support), 4) AS rate_low,
       round(wilson_high(a.causal_count, a.support), 4) AS rate_high,
       round(a.base_rate, 4) AS base_rate,
       round(a.causal_count / a.support / nullif(a.base_rate, 0), 2) AS lift
FROM agg a
LEFT JOIN items i ON i.item_id = a.item_id AND i.corpus = (SELECT corpus FROM r)
ORDER BY wilson_low(a.causal_count, a.support) DESC, a.causal_count DESC, a.item_id
LIMIT $top;
