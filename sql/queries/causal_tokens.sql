-- name: causal_tokens
-- description: Tokens most often in the per-sample best CLEANN explanation, per predicted class, with support (occurrences in explained samples) and causal rate (causal count / support).
-- kind: sentiment
-- params: run (run id; default the latest sentiment run), min_support (default 3), top (rows per class, default 20)
-- defaults: min_support=3, top=20
WITH s AS (
    SELECT sample_id, pred FROM samples WHERE run_id = $run AND status = 'ok'
), best AS (
    SELECT sample_id, unnest(positions) AS pos
    FROM explanations WHERE run_id = $run AND explainer = 'cleann' AND rank = 0
), occ AS (
    SELECT s.pred, lower(t.token) AS token, b.pos IS NOT NULL AS causal
    FROM tokens t
    JOIN s USING (sample_id)
    LEFT JOIN best b ON b.sample_id = t.sample_id AND b.pos = t.pos
    WHERE t.run_id = $run AND NOT coalesce(t.is_special, false)
)
SELECT pred AS predicted_class, token,
       count(*) AS support,
       count(*) FILTER (WHERE causal) AS causal_count,
       round(count(*) FILTER (WHERE causal) / count(*), 4) AS causal_rate
FROM occ
GROUP BY pred, token
HAVING count(*) >= $min_support AND count(*) FILTER (WHERE causal) > 0
QUALIFY row_number() OVER (PARTITION BY pred ORDER BY causal_count DESC, causal_rate DESC, token) <= $top
ORDER BY predicted_class, causal_count DESC, causal_rate DESC, token;
