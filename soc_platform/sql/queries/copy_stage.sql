COPY waf_events_stage (
    event_id, event_time, client_ip, host, request_method, request_uri, status_code,
    user_agent, rule_id, rule_msg, rule_tags, action, source_format, source_file,
    source_offset, ingested_at, url_path, url_query, observer_vendor, observer_product,
    rule_ids, rule_names, labels, request_id, anomaly_score, source_country, source_as_number,
    source_as_org, host_criticality
) FROM STDIN (FORMAT csv)
