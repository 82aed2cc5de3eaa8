-- The free-text terms of an incident search, each as a tsquery (tables._search_tsquery ANDs
-- them into the one search_incidents.sql takes as a constant). A term is `exact` when the
-- incidents' vocabulary (incident_terms) has each of its words as a prefix ("192.168"
-- matches 192.168.1.50, "attempts" matches "attempt"): a range probe per word on the
-- vocabulary's text_pattern_ops index. A term that is not is a typo: search_typo.sql.
-- Stop words ("from") are dropped.
--
-- `lexemes` and `vocabulary`: the term's words and how many vocabulary words start with
-- each (counted up to 5,000): with search_stats.sql, what tables.search_plan estimates the
-- matches from.
WITH terms AS MATERIALIZED (
    SELECT
        t.term,
        t.n,
        to_tsquery('english', quote_literal(t.term) || ':*') AS tsq
    FROM unnest(%(terms)s::text[]) WITH ORDINALITY AS t(term, n)
    WHERE numnode(plainto_tsquery('english', t.term)) > 0
),
words AS MATERIALIZED (
    SELECT
        t.n,
        l.lexeme,
        (SELECT count(*) FROM (
            SELECT 1 FROM incident_terms AS w
            WHERE w.term ~>=~ l.lexeme AND w.term ~<~ (l.lexeme || chr(1114111))
            LIMIT 5000) AS v) AS vocabulary
    FROM terms AS t
    CROSS JOIN LATERAL unnest(tsvector_to_array(to_tsvector('english', t.term))) AS l(lexeme)
)
SELECT
    t.term,
    coalesce((ts_lexize('english_stem', t.term))[1], t.term) AS stem,
    t.tsq::text AS tsq,
    coalesce(array_agg(w.lexeme ORDER BY w.lexeme) FILTER (WHERE w.lexeme IS NOT NULL),
             '{}') AS lexemes,
    coalesce(array_agg(w.vocabulary ORDER BY w.lexeme) FILTER (WHERE w.lexeme IS NOT NULL),
             '{}') AS vocabulary,
    NOT coalesce(bool_or(w.vocabulary = 0), false) AS exact
FROM terms AS t
LEFT JOIN words AS w ON w.n = t.n
GROUP BY t.n, t.term, t.tsq
ORDER BY t.n
