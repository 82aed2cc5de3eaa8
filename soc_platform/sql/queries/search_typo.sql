-- A search term no incident has (a typo: "injecton", "blokced"): the (up to 3) most similar
-- words of the incidents' vocabulary by trigram similarity (pg_trgm, GIN index
-- incident_terms_trgm_idx), compared with the term and with its stem (the vocabulary holds
-- stems; the stem's test is folded away at planning when it is the term), as one tsquery of
-- alternatives; NULL when nothing is similar enough. One scan with an OR, not a UNION: a
-- UNION's de-duplication sorts by word, which makes a walk of a b-tree of the vocabulary
-- (computing the similarity of every word) look cheaper than the trigram index.
SELECT to_tsquery('simple', string_agg(quote_literal(v.term) || ':*', ' | '))::text AS tsq
FROM (
    SELECT w.term
    FROM incident_terms AS w
    WHERE w.term %% %(term)s
       OR (%(stem)s::text <> %(term)s::text AND w.term %% %(stem)s)
    ORDER BY greatest(similarity(w.term, %(term)s), similarity(w.term, %(stem)s)) DESC, w.term
    LIMIT 3
) AS v
