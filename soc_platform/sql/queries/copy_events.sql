COPY waf_events (
    event_id, event_time, client_ip, host, request_method, request_uri, status_code,
    user_agent, rule_id, rule_msg, rule_tags, action, source_format, source_file,
    source_offset, ingested_at
) FROM STDIN (FORMAT csv)
