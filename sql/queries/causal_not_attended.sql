-- name: causal_not_attended
-- description: Tokens often causal but rarely among the most-attended: for each best explanation (rank 0) of size k, a causal token counts as attended when it is among the k positions its head's target attends to most.
-- kind: sentiment
-- params: run (default the latest sentiment run), min_causal (default 3), max_attended_rate (default 0.25), top (default 30)
-- defaults: min_causal=3, max_attended_rate=0.25, top=30
WITH best AS (
    SELECT e.sample_id, e.head, e.size, unnest(e.positions) AS pos
    FROM explanations e
    JOIN samples s ON s.run_id = e.run_id AND s.sample_id = e.sample_id AND s.status = 'ok'
    WHERE e.run_id = $run AND e.explainer = 'cleann' AND e.rank = 0
), causal AS (
    SELECT lower(t.token) AS token,
           list_contains(h.top_attended[1:b.size], b.pos) AS attended
    FROM best b
    JOIN tokens t ON t.run_id = $run AND t.sample_id = b.sample_id AND t.pos = b.pos
    JOIN explain_heads h ON h.run_id = $run AND h.sample_id = b.sample_id AND h.head = b.head
)
SELECT token,
       count(*) AS causal_count,
       count(*) FILTER (WHERE attended) AS attended_count,
       round(count(*) FILTER (WHERE attended) / count(*), 4) AS attended_rate
FROM causal
GROUP BY token
HAVING count(*) >= $min_causal AND count(*) FILTER (WHERE attended) / count(*) <= $max_attended_rate
ORDER BY causal_count DESC, attended_rate, token
LIMIT $top;
