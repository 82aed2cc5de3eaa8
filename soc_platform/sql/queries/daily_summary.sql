SELECT day, rule_id, event_count, distinct_ips
FROM waf_events_daily_summary
WHERE day >= %(lo)s AND day < %(hi)s
ORDER BY day, event_count DESC, rule_id NULLS LAST
