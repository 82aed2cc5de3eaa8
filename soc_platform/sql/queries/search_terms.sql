-- The free-text part of an incident search as one tsquery (search_incidents.sql takes it as
-- a constant, so the planner sees how selective it is). Each term matches:
--   * as a word prefix in the full-text vector ("192.168" matches 192.168.1.50,
--     "attempts" matches "attempt") when the incidents' vocabulary (incident_terms) has
--     each of its words as a prefix (a b-tree range probe per word);
--   * otherwise (a typo) as any of the (up to 3) most similar words of the incidents'
--     vocabulary (trigram similarity on incident_terms).
-- Terms are ANDed. Stop words ("from") are ignored. Returns tsq NULL when no term is left
-- (list everything) and possible = false when some term matches nothing at all.
WITH terms AS MATERIALIZED (
    SELECT
        t.term,
        t.n,
        to_tsquery('english', quote_literal(t.term) || ':*') AS tsq
    FROM unnest(%(terms)s::text[]) WITH ORDINALITY AS t(term, n)
    WHERE numnode(plainto_tsquery('english', t.term)) > 0
),
checked AS MATERIALIZED (
    SELECT
        t.term,
        t.n,
        t.tsq,
        NOT EXISTS (
            SELECT 1
            FROM unnest(tsvector_to_array(to_tsvector('english', t.term))) AS l(lexeme)
            WHERE NOT EXISTS (
                SELECT 1 FROM incident_terms AS w
                WHERE w.term LIKE replace(replace(replace(l.lexeme, '\', '\\'), '%%', '\%%'),
                                          '_', '\_') || '%%'
            )
        ) AS exact,
        coalesce((ts_lexize('english_stem', t.term))[1], t.term) AS stem
    FROM terms AS t
),
resolved AS (
    SELECT
        c.n,
        CASE WHEN c.exact THEN c.tsq ELSE (
            -- the vocabulary holds stems ("block"): compare the stemmed typo ("blokc") too
            SELECT to_tsquery('simple', string_agg(quote_literal(v.term) || ':*', ' | '))
            FROM (
                SELECT u.term
                FROM (
                    -- two trigram index scans (an OR of both would read the whole vocabulary)
                    SELECT w.term FROM incident_terms AS w WHERE w.term %% c.term
                    UNION
                    SELECT w.term FROM incident_terms AS w WHERE w.term %% c.stem
                ) AS u
                ORDER BY greatest(similarity(u.term, c.term), similarity(u.term, c.stem)) DESC,
                         u.term
                LIMIT 3
            ) AS v
        ) END AS tsq
    FROM checked AS c
)
SELECT
    string_agg('(' || r.tsq::text || ')', ' & ' ORDER BY r.n) AS tsq,
    coalesce(bool_and(r.tsq IS NOT NULL), true) AS possible
FROM resolved AS r
