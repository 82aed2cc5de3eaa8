INSERT INTO incident_terms (term)
SELECT DISTINCT lexemes.lexeme
FROM incidents AS i
CROSS JOIN LATERAL unnest(i.search_tsv) AS lexemes
WHERE i.id = ANY(%(ids)s::text[])
ON CONFLICT (term) DO NOTHING
