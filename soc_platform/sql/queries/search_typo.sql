-- A search term no incident has (a typo: "injecton", "blokced"): the (up to 3) most similar
-- words of the incidents' vocabulary by trigram similarity (pg_trgm, GIN index
-- incident_terms_trgm_idx), compared with the term and with its stem (the vocabulary holds
-- stems), as one tsquery of alternatives; NULL when nothing is similar enough.
SELECT to_tsquery('simple', string_agg(quote_literal(v.term) || ':*', ' | '))::text AS tsq
FROM (
    SELECT u.term
    FROM (
        SELECT w.term FROM incident_terms AS w WHERE w.term %% %(term)s
        UNION
        SELECT w.term FROM incident_terms AS w WHERE w.term %% %(stem)s
    ) AS u
    ORDER BY greatest(similarity(u.term, %(term)s), similarity(u.term, %(stem)s)) DESC, u.term
    LIMIT 3
) AS v
