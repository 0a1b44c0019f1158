-- name: rec_causal_genres
-- description: Genres most often causal for recommendations: occurrences of a genre in users' histories (support), how many of them were in the best explanation (causal count) and the causal rate.
-- kind: rec
-- params: run (default the latest rec run), min_support (default 3)
-- defaults: min_support=3
WITH r AS (SELECT split_part(corpus, ':', 2) AS corpus FROM runs WHERE run_id = $run),
s AS (SELECT sample_id FROM samples WHERE run_id = $run AND status = 'ok'),
best AS (
    SELECT sample_id, unnest(positions) AS pos
    FROM explanations WHERE run_id = $run AND explainer = 'cleann' AND rank = 0
), occ AS (
    SELECT unnest(i.genres) AS genre, b.pos IS NOT NULL AS causal
    FROM tokens t
    JOIN s USING (sample_id)
    JOIN items i ON i.item_id = t.token_id AND i.corpus = (SELECT corpus FROM r)
    LEFT JOIN best b ON b.sample_id = t.sample_id AND b.pos = t.pos
    WHERE t.run_id = $run AND NOT coalesce(t.is_special, false)
)
SELECT genre, count(*) AS support,
       count(*) FILTER (WHERE causal) AS causal_count,
       round(count(*) FILTER (WHERE causal) / count(*), 4) AS causal_rate
FROM occ
GROUP BY genre
HAVING count(*) >= $min_support
ORDER BY causal_count DESC, causal_rate DESC, genre;
