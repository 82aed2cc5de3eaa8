SELECT count(*) FROM waf_events WHERE event_time >= %(lo)s AND event_time < %(hi)s
