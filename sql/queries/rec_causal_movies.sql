-- name: rec_causal_movies
-- description: Movies most often in the per-user best explanation of the top-1 recommendation, with support (users whose history contains the movie) and causal rate.
-- kind: rec
-- params: run (default the latest rec run), min_support (default 3), top (default 20)
-- defaults: min_support=3, top=20
WITH r AS (SELECT run_id, split_part(corpus, ':', 2) AS corpus FROM runs WHERE run_id = $run),
s AS (SELECT sample_id FROM samples WHERE run_id = $run AND status = 'ok'),
best AS (
    SELECT sample_id, unnest(positions) AS pos
    FROM explanations WHERE run_id = $run AND explainer = 'cleann' AND rank = 0
), occ AS (
    SELECT t.token_id AS item_id, b.pos IS NOT NULL AS causal
    FROM tokens t
    JOIN s USING (sample_id)
    LEFT JOIN best b ON b.sample_id = t.sample_id AND b.pos = t.pos
    WHERE t.run_id = $run AND NOT coalesce(t.is_special, false)
)
SELECT o.item_id, any_value(i.title) AS title,
       count(*) AS support,
       count(*) FILTER (WHERE o.causal) AS causal_count,
       round(count(*) FILTER (WHERE o.causal) / count(*), 4) AS causal_rate
FROM occ o
LEFT JOIN items i ON i.item_id = o.item_id AND i.corpus = (SELECT corpus FROM r)
GROUP BY o.item_id
HAVING count(*) >= $min_support AND count(*) FILTER (WHERE o.causal) > 0
ORDER BY causal_count DESC, causal_rate DESC, o.item_id
LIMIT $top;
