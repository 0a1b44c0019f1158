-- 301_words: corpus statistics per word, with intervals (issue 15).
-- words (view): one row per word of an explained sample. The pieces of a word (tokens
--   with the same tokens.word_idx, i.e. the tokenizer's word id) are merged, their
--   continuation marks ('##', 'Ġ', '▁') dropped and the text case-folded; the BERT
--   pre-tokenizer already splits punctuation into words of its own. Special tokens are
--   not words. Works the same for token-node and word-node runs (explanations are token
--   positions either way: a word is in the explanation when any of its pieces is).
--   Recommendation runs: one word per history item (word = the item id as text).
--   Columns:
--     run_id, sample_id, word_idx (the sample's word index), word, positions (its token
--     positions), n_pieces,
--     has_explanation   the sample has a best CLEANN set (explanations rank 0),
--     in_explanation    any piece is in that set (false when there is none),
--     explanation_words k = words in the best set (NULL without a set),
--     n_words           words in the sample,
--     attention_rank    rank of the word among the sample's words by the attention the
--                       target pays it in the best set's head (a word ranks by its most
--                       attended piece; only the 10 stored most-attended positions count,
--                       NULL outside them or without a set),
--     attended          attention_rank <= k: among the k most-attended words, the same
--                       number of words as the explanation (NULL without a set),
--     chance            k / n_words: the probability that a word of this sample would be
--                       in a k-word set drawn at random (0 without a set); averaged over
--                       a word's occurrences it is the word's base rate.
-- Macros (95 % intervals, z = 1.959964):
--   wilson_low(k, n) / wilson_high(k, n): Wilson score interval of k successes in n.
--   newcombe_low(k1, n1, k2, n2) / newcombe_high(...): Newcombe's hybrid score interval
--     (1998, method 10) of p1 - p2 for independent proportions.
--   newcombe_paired_low(n11, n10, n01, n00) / newcombe_paired_high(...): Newcombe's
--     interval (1998, paired method 10) for p1 - p2 on the same units, p1 = (n11+n10)/n,
--     p2 = (n11+n01)/n, with the phi correlation of the 2x2 table.
CREATE OR REPLACE MACRO wilson_low(k, n) AS
    CASE WHEN n > 0 THEN
        (k::DOUBLE / n + 3.841459 / (2 * n)
         - 1.959964 * sqrt((k::DOUBLE / n) * (1 - k::DOUBLE / n) / n + 3.841459 / (4 * n::DOUBLE * n)))
        / (1 + 3.841459 / n)
    END;

CREATE OR REPLACE MACRO wilson_high(k, n) AS
    CASE WHEN n > 0 THEN
        (k::DOUBLE / n + 3.841459 / (2 * n)
         + 1.959964 * sqrt((k::DOUBLE / n) * (1 - k::DOUBLE / n) / n + 3.841459 / (4 * n::DOUBLE * n)))
        / (1 + 3.841459 / n)
    END;

CREATE OR REPLACE MACRO newcombe_low(k1, n1, k2, n2) AS
    CASE WHEN n1 > 0 AND n2 > 0 THEN
        k1::DOUBLE / n1 - k2::DOUBLE / n2
        - sqrt(power(k1::DOUBLE / n1 - wilson_low(k1, n1), 2) + power(wilson_high(k2, n2) - k2::DOUBLE / n2, 2))
    END;

CREATE OR REPLACE MACRO newcombe_high(k1, n1, k2, n2) AS
    CASE WHEN n1 > 0 AND n2 > 0 THEN
        k1::DOUBLE / n1 - k2::DOUBLE / n2
        + sqrt(power(wilson_high(k1, n1) - k1::DOUBLE / n1, 2) + power(k2::DOUBLE / n2 - wilson_low(k2, n2), 2))
    END;

CREATE OR REPLACE MACRO newcombe_phi(n11, n10, n01, n00) AS
    CASE WHEN (n11 + n10) > 0 AND (n01 + n00) > 0 AND (n11 + n01) > 0 AND (n10 + n00) > 0 THEN
        (n11::DOUBLE * n00 - n10::DOUBLE * n01)
        / sqrt((n11 + n10)::DOUBLE * (n01 + n00) * (n11 + n01) * (n10 + n00))
    ELSE 0.0 END;

CREATE OR REPLACE MACRO newcombe_paired_low(n11, n10, n01, n00) AS
    CASE WHEN (n11 + n10 + n01 + n00) > 0 THEN
        (n10 - n01)::DOUBLE / (n11 + n10 + n01 + n00)
        - sqrt(greatest(0.0,
            power((n11 + n10)::DOUBLE / (n11 + n10 + n01 + n00) - wilson_low(n11 + n10, n11 + n10 + n01 + n00), 2)
            - 2 * newcombe_phi(n11, n10, n01, n00)
                * ((n11 + n10)::DOUBLE / (n11 + n10 + n01 + n00) - wilson_low(n11 + n10, n11 + n10 + n01 + n00))
                * (wilson_high(n11 + n01, n11 + n10 + n01 + n00) - (n11 + n01)::DOUBLE / (n11 + n10 + n01 + n00))
            + power(wilson_high(n11 + n01, n11 + n10 + n01 + n00) - (n11 + n01)::DOUBLE / (n11 + n10 + n01 + n00), 2)))
    END;

CREATE OR REPLACE MACRO newcombe_paired_high(n11, n10, n01, n00) AS
    CASE WHEN (n11 + n10 + n01 + n00) > 0 THEN
        (n10 - n01)::DOUBLE / (n11 + n10 + n01 + n00)
        + sqrt(greatest(0.0,
            power(wilson_high(n11 + n10, n11 + n10 + n01 + n00) - (n11 + n10)::DOUBLE / (n11 + n10 + n01 + n00), 2)
            - 2 * newcombe_phi(n11, n10, n01, n00)
                * (wilson_high(n11 + n10, n11 + n10 + n01 + n00) - (n11 + n10)::DOUBLE / (n11 + n10 + n01 + n00))
                * ((n11 + n01)::DOUBLE / (n11 + n10 + n01 + n00) - wilson_low(n11 + n01, n11 + n10 + n01 + n00))
            + power((n11 + n01)::DOUBLE / (n11 + n10 + n01 + n00) - wilson_low(n11 + n01, n11 + n10 + n01 + n00), 2)))
    END;

CREATE OR REPLACE VIEW words AS
WITH w AS (
    SELECT run_id, sample_id, word_idx,
           lower(string_agg(regexp_replace(token, '^(##|Ġ|▁)', ''), '' ORDER BY pos)) AS word,
           list(pos ORDER BY pos) AS positions,
           count(*)::INTEGER AS n_pieces
    FROM tokens
    WHERE NOT coalesce(is_special, false) AND word_idx IS NOT NULL
    GROUP BY run_id, sample_id, word_idx
), best AS (
    SELECT run_id, sample_id, head, positions AS best_positions
    FROM explanations
    WHERE explainer = 'cleann' AND rank = 0
), flagged AS (
    SELECT w.*,
           b.sample_id IS NOT NULL AS has_explanation,
           coalesce(len(list_intersect(w.positions, b.best_positions)) > 0, false) AS in_explanation,
           list_min(list_transform(w.positions, lambda p: list_position(h.top_attended, p))) AS piece_rank
    FROM w
    LEFT JOIN best b ON b.run_id = w.run_id AND b.sample_id = w.sample_id
    LEFT JOIN explain_heads h ON h.run_id = w.run_id AND h.sample_id = w.sample_id AND h.head = b.head
), ranked AS (
    SELECT *,
           CASE WHEN has_explanation
                THEN count(*) FILTER (WHERE in_explanation) OVER (PARTITION BY run_id, sample_id) END
               ::INTEGER AS explanation_words,
           count(*) OVER (PARTITION BY run_id, sample_id)::INTEGER AS n_words,
           CASE WHEN piece_rank IS NOT NULL
                THEN rank() OVER (PARTITION BY run_id, sample_id ORDER BY piece_rank NULLS LAST) END
               ::INTEGER AS attention_rank
    FROM flagged
)
SELECT run_id, sample_id, word_idx, word, positions, n_pieces, has_explanation, in_explanation,
       explanation_words, n_words, attention_rank,
       CASE WHEN has_explanation THEN coalesce(attention_rank <= explanation_words, false) END AS attended,
       coalesce(explanation_words::DOUBLE / n_words, 0.0) AS chance
FROM ranked;
