-- The seed's hard-coded SQL-injection rule (soc_platform/sql/queries/rule_sqli_burst.sql before
-- the Sigma engine replaced it), kept only to prove the Sigma rule waf-sqli-burst gives the
-- same incidents (tests/integration/test_rules_engine.py).
-- SQL-injection burst: count SQL-injection events per client IP in each given span and
-- keep the (span, IP) pairs with at least `threshold` events.
--   * Finding firing windows: the spans are the rule's windows (`span_groups` NULL: any IP).
--   * Summing up an incident: one span per run of firing windows, limited to its IP, with
--     threshold 1, so each event of the run counts once however many windows held it.
-- SQL injection as real WAF data labels it: the OWASP CRS 942xxx rule family, its
-- `attack-sqli` tag, or a rule message naming SQL injection (CRS, ModSecurity, the seed).
WITH spans AS (
    SELECT s.lo, s.hi, s.grp::inet AS grp, s.n
    FROM unnest(
        %(span_starts)s::timestamptz[],
        %(span_ends)s::timestamptz[],
        %(span_groups)s::text[]
    ) WITH ORDINALITY AS s(lo, hi, grp, n)
),
matched AS (
    SELECT s.n, s.lo AS window_start, e.*
    FROM spans AS s
    JOIN waf_events AS e
      ON e.event_time >= s.lo
     AND e.event_time < s.hi
     AND (s.grp IS NULL OR e.client_ip = s.grp)
    -- constant bounds as well, so the planner prunes day partitions / chunks and uses the
    -- time index instead of scanning the whole hot table
    WHERE e.event_time >= %(lo)s::timestamptz
      AND e.event_time < %(hi)s::timestamptz
      AND (e.rule_id ~ '^942[0-9]{3}$'
       OR 'attack-sqli' = ANY (e.rule_tags)
       OR e.rule_msg ILIKE '%%SQL Injection%%')
)
SELECT
    host(client_ip) AS client_ip,
    window_start,
    min(event_time) AS start_time,
    max(event_time) AS end_time,
    count(*) AS event_count,
    count(*) FILTER (WHERE action = 'blocked') AS blocked_count,
    coalesce(array_agg(DISTINCT rule_id ORDER BY rule_id) FILTER (WHERE rule_id IS NOT NULL), '{}') AS rule_ids,
    (array_agg(DISTINCT host || split_part(request_uri, '?', 1)))[1:20] AS targets
FROM matched
GROUP BY n, window_start, client_ip
HAVING count(*) >= %(threshold)s
ORDER BY window_start, client_ip
