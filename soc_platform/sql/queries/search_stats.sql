-- What the embedded search estimates its matches from (tables.search_plan): the incident
-- count ANALYZE saw (NULL before the first ANALYZE) and the most common lexemes of the
-- search vectors with their frequencies (pg_stats; NULL before ANALYZE). Read once a
-- minute per database (tables.SEARCH_STATS_TTL), not per search: the view is costly to plan.
SELECT
    CASE WHEN c.reltuples >= 0 THEN c.reltuples END AS total,
    s.most_common_elems::text::text[] AS elems,
    s.most_common_elem_freqs AS freqs
FROM pg_class AS c
LEFT JOIN pg_stats AS s
    ON s.schemaname = c.relnamespace::regnamespace::text
   AND s.tablename = c.relname
   AND s.attname = 'search_tsv'
WHERE c.oid = 'incidents'::regclass
