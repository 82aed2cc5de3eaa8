-- The free-text terms of an incident search, each as a tsquery (tables._search_tsquery ANDs
-- them into the one search_incidents.sql takes as a constant). A term is `exact` when the
-- incidents' vocabulary (incident_terms) has each of its words as a prefix ("192.168"
-- matches 192.168.1.50, "attempts" matches "attempt"): a range probe per word on the
-- vocabulary's text_pattern_ops index. A term that is not is a typo: search_typo.sql.
-- Stop words ("from") are dropped.
--
-- `selectivity`: the share of incidents the term matches, estimated per word as the larger
-- of (a) the frequencies ANALYZE recorded for the most common lexemes that start with it
-- (pg_stats.most_common_elems of search_tsv: right for common words like "blocked") and
-- (b) the number of vocabulary words that start with it over the incident count (every
-- word is in at least one incident: right for a prefix of many rare words like "192.168",
-- which (a) and the planner miss); the rarest word of the term counts. `total`: the
-- incident count ANALYZE saw (NULL before the first ANALYZE). tables.search_plan uses them
-- to choose between the full-text index and a walk of the newest incidents.
WITH stats AS MATERIALIZED (
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
),
terms AS MATERIALIZED (
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
            LIMIT 5000) AS v) AS vocabulary,
        (SELECT sum(m.freq)
         FROM stats AS st, unnest(st.elems, st.freqs) AS m(elem, freq)
         WHERE m.elem ^@ l.lexeme) AS common
    FROM terms AS t
    CROSS JOIN LATERAL unnest(tsvector_to_array(to_tsvector('english', t.term))) AS l(lexeme)
)
SELECT
    t.term,
    coalesce((ts_lexize('english_stem', t.term))[1], t.term) AS stem,
    t.tsq::text AS tsq,
    NOT EXISTS (SELECT 1 FROM words AS w WHERE w.n = t.n AND w.vocabulary = 0) AS exact,
    (SELECT min(greatest(coalesce(w.common, 0), w.vocabulary / greatest(st.total, 1)))
     FROM words AS w WHERE w.n = t.n) AS selectivity,
    st.total
FROM terms AS t
CROSS JOIN stats AS st
ORDER BY t.n
