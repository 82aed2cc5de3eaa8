-- SQL-injection burst: at least `threshold` SQL-injection events from one client IP within
-- one `window`-long window. Evaluated for exactly the windows given (those a load touched), so
-- late events re-evaluate their own window.
-- SQL injection as real WAF data labels it: the OWASP CRS 942xxx rule family, its
-- `attack-sqli` tag, or a rule message naming SQL injection (CRS, ModSecurity, the seed).
WITH windows AS (
    SELECT DISTINCT unnest(%(windows)s::timestamptz[]) AS window_start
),
matched AS (
    SELECT w.window_start, e.*
    FROM windows AS w
    JOIN waf_events AS e
      ON e.event_time >= w.window_start
     AND e.event_time < w.window_start + %(window)s::interval
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
GROUP BY client_ip, window_start
HAVING count(*) >= %(threshold)s
ORDER BY window_start, client_ip
