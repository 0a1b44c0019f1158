-- name: rec_causal_genres
-- description: Genres most often causal for recommendations: occurrences of a genre in users' histories (support), how many were in the best explanation (causal count), causal rate with its 95 % Wilson interval, base rate (chance of being in a random set of the explanation's size) and lift; ranked by the interval's lower bound.
-- kind: rec
-- params: run (default the latest rec run), min_support (default 5)
-- defaults: min_support=5
-- types: min_support=int 1..1000000000
WITH r AS (SELECT corpus_name AS corpus FROM runs WHERE run_id = $run),
occ AS (
    SELECT unnest(i.genres) AS genre, w.in_explanation AS causal, w.chance
    FROM words w
    JOIN samples s ON s.run_id = w.run_id AND s.sample_id = w.sample_id AND s.status = 'ok'
    JOIN tokens t ON t.run_id = w.run_id AND t.sample_id = w.sample_id AND t.pos = w.positions[1]
    JOIN items i ON i.item_id = t.token_id AND i.corpus = (SELECT corpus FROM r)
    WHERE w.run_id = $run
), agg AS (
    SELECT genre, count(*) AS support, count(*) FILTER (WHERE causal) AS causal_count, avg(chance) AS base_rate
    FROM occ
    GROUP BY genre
    HAVING count(*) >= $min_support
)
SELECT genre, support, causal_count,
       round(causal_count / support, 4) AS causal_rate,
       round(wilson_low(causal_count, support), 4) AS rate_low,
       round(wilson_high(causal_count, support), 4) AS rate_high,
       round(base_rate, 4) AS base_rate,
       round(causal_count / support / nullif(base_rate, 0), 2) AS lift
FROM agg
ORDER BY wilson_low(causal_count, support) DESC, causal_count DESC, genre;
