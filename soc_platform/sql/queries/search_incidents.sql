-- Embedded incident search: the incidents matching the free-text tsquery (search_terms.sql,
-- NULL = any) and every filter of the query syntax (soc_platform/search/query.py; a NULL
-- parameter = that filter is off), in the requested order (SEARCH_ORDERS), LIMIT first: with the
-- tsquery a constant the planner walks the order's index and stops at LIMIT for common
-- words, or uses the GIN index and sorts the few matches for rare ones. Nothing is ranked
-- or grouped over every match. The source is first the newest (or highest-scored) 2,000
-- incidents, in the order's index: enough matches there are the answer; else the table.
SELECT i.*
FROM {source} AS i
WHERE (%(tsq)s::tsquery IS NULL OR i.search_tsv @@ %(tsq)s::tsquery)
  AND (%(type)s::text IS NULL OR i.type = %(type)s::text)
  AND (%(statuses)s::text[] IS NULL OR i.status = ANY(%(statuses)s::text[]))
  AND (%(severities)s::text[] IS NULL OR i.severity = ANY(%(severities)s::text[]))
  AND (%(rules)s::text[] IS NULL OR i.rule = ANY(%(rules)s::text[]))
  AND (%(techniques)s::text[] IS NULL OR i.attack_techniques && %(techniques)s::text[])
  AND (%(tactics)s::text[] IS NULL OR i.attack_tactics && %(tactics)s::text[])
  AND (%(since)s::timestamptz IS NULL OR i.end_time >= %(since)s::timestamptz)
  AND (%(addresses)s::text[] IS NULL
       OR i.client_ip = ANY(%(addresses)s::text[]) OR i.sources && %(addresses)s::text[])
  AND (%(networks)s::cidr[] IS NULL OR CASE
        WHEN i.client_ip ~ '^[0-9]{{1,3}}(\.[0-9]{{1,3}}){{3}}$|^[0-9a-fA-F]*:[0-9a-fA-F:.]*$'
        THEN i.client_ip::inet <<= ANY(%(networks)s::cidr[])
        -- grouped by something else than the client IP: any of its sources
        ELSE EXISTS (
            SELECT 1 FROM unnest(i.sources) AS s(ip)
            WHERE CASE WHEN s.ip ~ '^[0-9]{{1,3}}(\.[0-9]{{1,3}}){{3}}$|^[0-9a-fA-F]*:[0-9a-fA-F:.]*$'
                       THEN s.ip::inet <<= ANY(%(networks)s::cidr[]) ELSE false END)
        END)
  AND (%(hosts)s::text[] IS NULL OR EXISTS (
        SELECT 1 FROM unnest(i.targets) AS t(target)
        WHERE lower(split_part(t.target, '/', 1)) = ANY(%(hosts)s::text[])))
  AND (%(countries)s::text[] IS NULL OR i.source_countries && %(countries)s::text[])
  AND (%(asns)s::bigint[] IS NULL OR i.source_asns && %(asns)s::bigint[])
ORDER BY {order}
LIMIT %(limit)s
