-- Embedded incident search: every query term must match the incident, either as a word
-- prefix in the full-text vector ("192.168" matches 192.168.1.50, "attempts" matches
-- "attempt") or, for typos, by trigram word similarity. Stop words ("from") are ignored.
-- A query of stop words only matches everything. Ranked by full-text rank plus
-- similarity, newest first on ties.
WITH terms AS (
    SELECT
        t.term,
        CASE
            WHEN numnode(plainto_tsquery('english', t.term)) = 0 THEN NULL
            ELSE to_tsquery('english', quote_literal(t.term) || ':*')
        END AS tsq
    FROM unnest(%(terms)s::text[]) AS t(term)
),
usable AS (
    SELECT term, tsq FROM terms WHERE tsq IS NOT NULL
),
scored AS (
    SELECT
        i.id,
        coalesce(bool_and(i.search_tsv @@ u.tsq OR u.term <%% i.search_doc), true) AS all_match,
        coalesce(sum(ts_rank(i.search_tsv, u.tsq) + word_similarity(u.term, i.search_doc)), 0)
            AS score
    FROM incidents AS i
    LEFT JOIN usable AS u ON true
    WHERE (%(type)s::text IS NULL OR i.type = %(type)s::text)
      AND (%(client_ip)s::text IS NULL OR i.client_ip = %(client_ip)s::text)
    GROUP BY i.id
)
SELECT i.id, i.type, i.rule, i.severity, i.client_ip, i.targets, i.start_time, i.end_time,
       i.window_start, i.event_count, i.blocked_count, i.rule_ids, i.description,
       i.attack_techniques, i.updated_at
FROM scored AS s
JOIN incidents AS i ON i.id = s.id
WHERE s.all_match
ORDER BY s.score DESC, i.start_time DESC, i.id
LIMIT %(limit)s
