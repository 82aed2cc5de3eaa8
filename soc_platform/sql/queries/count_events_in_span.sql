-- Events with event_time in [lo, hi], both inclusive (a batch's span of one day).
SELECT count(*) FROM waf_events WHERE event_time >= %(lo)s AND event_time <= %(hi)s
