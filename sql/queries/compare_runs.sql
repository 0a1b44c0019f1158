-- name: compare_runs
-- description: Two runs on the samples both explained (status ok in both): share of samples with an explanation ('found'), share per best-set size ('size', item = size or 'none'), and per-word causal rates ('word'; occurrences in the shared samples); each rate with its 95 % Wilson interval and the difference a - b with a 95 % Newcombe interval (paired by sample for found and size; independent for words, which is conservative when the runs agree). Words need min_support occurrences in both runs; the top words by how clearly they differ.
-- kind: pair
-- params: run_a, run_b (run ids, required), min_support (default 5), top (words, default 20)
-- defaults: min_support=5, top=20
-- types: min_support=int 1..1000000000, top=int 1..1000000
WITH shared AS (
    SELECT a.sample_id, a.best_size AS size_a, b.best_size AS size_b
    FROM samples a JOIN samples b ON b.sample_id = a.sample_id AND b.run_id = $run_b AND b.status = 'ok'
    WHERE a.run_id = $run_a AND a.status = 'ok'
), found AS (
    SELECT 1 AS section_order, 'found' AS section, 'explained' AS item,
           count(*) FILTER (WHERE size_a IS NOT NULL AND size_b IS NOT NULL) AS n11,
           count(*) FILTER (WHERE size_a IS NOT NULL AND size_b IS NULL) AS n10,
           count(*) FILTER (WHERE size_a IS NULL AND size_b IS NOT NULL) AS n01,
           count(*) FILTER (WHERE size_a IS NULL AND size_b IS NULL) AS n00
    FROM shared
), sizes AS (
    SELECT 2 AS section_order, 'size' AS section, coalesce(v::VARCHAR, 'none') AS item,
           count(*) FILTER (WHERE size_a IS NOT DISTINCT FROM v AND size_b IS NOT DISTINCT FROM v) AS n11,
           count(*) FILTER (WHERE size_a IS NOT DISTINCT FROM v AND size_b IS DISTINCT FROM v) AS n10,
           count(*) FILTER (WHERE size_a IS DISTINCT FROM v AND size_b IS NOT DISTINCT FROM v) AS n01,
           count(*) FILTER (WHERE size_a IS DISTINCT FROM v AND size_b IS DISTINCT FROM v) AS n00
    FROM (SELECT DISTINCT size_a AS v FROM shared UNION SELECT DISTINCT size_b FROM shared) vals, shared
    GROUP BY v
), paired AS (
    SELECT section_order, section, item,
           n11 + n10 + n01 + n00 AS n_a, n11 + n10 AS k_a, n11 + n10 + n01 + n00 AS n_b, n11 + n01 AS k_b,
           newcombe_paired_low(n11, n10, n01, n00) AS lo, newcombe_paired_high(n11, n10, n01, n00) AS hi,
           NULL::INTEGER AS size_order
    FROM (SELECT * FROM found UNION ALL SELECT * FROM sizes)
), occ AS (
    SELECT w.run_id, w.word, w.in_explanation
    FROM words w JOIN shared USING (sample_id)
    WHERE w.run_id IN ($run_a, $run_b)
), per_word AS (
    SELECT word,
           count(*) FILTER (WHERE run_id = $run_a) AS n_a,
           count(*) FILTER (WHERE run_id = $run_a AND in_explanation) AS k_a,
           count(*) FILTER (WHERE run_id = $run_b) AS n_b,
           count(*) FILTER (WHERE run_id = $run_b AND in_explanation) AS k_b
    FROM occ
    GROUP BY word
    HAVING count(*) FILTER (WHERE run_id = $run_a) >= $min_support
       AND count(*) FILTER (WHERE run_id = $run_b) >= $min_support
       AND count(*) FILTER (WHERE in_explanation) > 0
), words_ranked AS (
    SELECT 3 AS section_order, 'word' AS section, word AS item, n_a, k_a, n_b, k_b,
           newcombe_low(k_a, n_a, k_b, n_b) AS lo, newcombe_high(k_a, n_a, k_b, n_b) AS hi,
           row_number() OVER (ORDER BY greatest(newcombe_low(k_a, n_a, k_b, n_b), -newcombe_high(k_a, n_a, k_b, n_b)) DESC,
                              abs(k_a / n_a - k_b / n_b) DESC, word) AS size_order
    FROM per_word
    QUALIFY size_order <= $top
)
SELECT section, item, n_a, k_a,
       round(k_a / n_a, 4) AS rate_a,
       round(wilson_low(k_a, n_a), 4) AS rate_a_low, round(wilson_high(k_a, n_a), 4) AS rate_a_high,
       n_b, k_b,
       round(k_b / n_b, 4) AS rate_b,
       round(wilson_low(k_b, n_b), 4) AS rate_b_low, round(wilson_high(k_b, n_b), 4) AS rate_b_high,
       round(k_a / n_a - k_b / n_b, 4) AS diff,
       round(lo, 4) AS diff_low, round(hi, 4) AS diff_high
FROM (SELECT * FROM paired UNION ALL BY NAME SELECT * FROM words_ranked)
ORDER BY section_order, TRY_CAST(item AS INTEGER) NULLS LAST, size_order, item;
