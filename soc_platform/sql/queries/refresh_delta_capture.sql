INSERT INTO agg_delta (day, rule_id, client_ip, n)
SELECT
    date_bin(INTERVAL '1 day', m.bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
    m.rule_id, m.client_ip, %(sign)s::int * sum(m.event_count)
FROM unnest(%(los)s::timestamptz[], %(his)s::timestamptz[]) AS r(lo, hi)
JOIN waf_events_1m AS m ON m.bucket >= r.lo AND m.bucket < r.hi
WHERE m.bucket >= %(lo)s::timestamptz AND m.bucket < %(hi)s::timestamptz
GROUP BY 1, 2, 3
