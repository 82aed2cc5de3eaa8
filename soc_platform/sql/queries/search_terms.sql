-- The free-text part of an incident search as one tsquery (search_incidents.sql takes it as
-- a constant, so the planner sees how selective it is). Each term matches:
--   * as a word prefix in the full-text vector ("192.168" matches 192.168.1.50,
--     "attempts" matches "attempt") when some incident has it (a GIN probe, LIMIT 1);
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
        EXISTS (SELECT 1 FROM incidents AS i WHERE i.search_tsv @@ t.tsq) AS exact,
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
                SELECT w.term
                FROM incident_terms AS w
                WHERE w.term %% c.term OR w.term %% c.stem
                ORDER BY greatest(similarity(w.term, c.term), similarity(w.term, c.stem)) DESC,
                         w.term
                LIMIT 3
            ) AS v
        ) END AS tsq
    FROM checked AS c
)
SELECT
    string_agg('(' || r.tsq::text || ')', ' & ' ORDER BY r.n) AS tsq,
    coalesce(bool_and(r.tsq IS NOT NULL), true) AS possible
FROM resolved AS r
