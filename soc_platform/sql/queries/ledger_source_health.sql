SELECT last_success_at, last_fresh_failure_at FROM landing_sources WHERE source = %(source)s
