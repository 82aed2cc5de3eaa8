-- Embedded incident search. Every query term must match an incident:
--   * as a word prefix in the full-text vector ("192.168" matches 192.168.1.50,
--     "attempts" matches "attempt"), through the GIN index on search_tsv;
--   * or, for a term no incident matches exactly (a typo), through the (up to 3) most
--     similar words of the incidents' vocabulary (trigram similarity on incident_terms),
--     then the same GIN index.
-- Stop words ("from") are ignored; a query of stop words only lists the newest incidents.
-- Ranked by exact matches first, then full-text rank, newest first on ties.
WITH terms AS MATERIALIZED (
    SELECT
        t.term,
        to_tsquery('english', quote_literal(t.term) || ':*') AS tsq
    FROM unnest(%(terms)s::text[]) AS t(term)
    WHERE numnode(plainto_tsquery('english', t.term)) > 0
),
checked AS MATERIALIZED (
    SELECT
        t.term,
        t.tsq,
        EXISTS (SELECT 1 FROM incidents AS i WHERE i.search_tsv @@ t.tsq) AS exact
    FROM terms AS t
),
fuzzy AS MATERIALIZED (
    SELECT
        c.term,
        (
            SELECT to_tsquery('simple', string_agg(quote_literal(v.term) || ':*', ' | '))
            FROM (
                SELECT w.term
                FROM incident_terms AS w
                WHERE w.term %% c.term OR w.term %% c.stem
                ORDER BY greatest(similarity(w.term, c.term), similarity(w.term, c.stem)) DESC,
                         w.term
                LIMIT 3
            ) AS v
        ) AS tsq
    FROM (
        -- the vocabulary holds stems ("block"): compare the stemmed typo ("blokc") too
        SELECT term, coalesce((ts_lexize('english_stem', term))[1], term) AS stem
        FROM checked
        WHERE NOT exact
    ) AS c
),
hits AS (
    SELECT c.term, i.id, 1.0 + ts_rank(i.search_tsv, c.tsq) AS score
    FROM checked AS c
    JOIN incidents AS i ON i.search_tsv @@ c.tsq
    WHERE c.exact
    UNION ALL
    SELECT f.term, i.id, 0.5 + ts_rank(i.search_tsv, f.tsq) AS score
    FROM fuzzy AS f
    JOIN incidents AS i ON i.search_tsv @@ f.tsq
    WHERE f.tsq IS NOT NULL
),
matched AS (
    SELECT id, sum(score) AS score
    FROM hits
    GROUP BY id
    HAVING count(DISTINCT term) = (SELECT count(*) FROM checked)
    UNION ALL
    SELECT id, 0 AS score
    FROM incidents
    WHERE NOT EXISTS (SELECT 1 FROM checked)
)
SELECT i.*
FROM matched AS m
JOIN incidents AS i ON i.id = m.id
WHERE (%(type)s::text IS NULL OR i.type = %(type)s::text)
  AND (%(client_ip)s::text IS NULL OR i.client_ip = %(client_ip)s::text)
ORDER BY m.score DESC, i.start_time DESC, i.id
LIMIT %(limit)s
