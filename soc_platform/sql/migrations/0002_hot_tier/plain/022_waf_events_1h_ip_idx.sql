-- Per-IP history over days to months reads the hourly level (the 1-minute level serves
-- recent windows through its bucket-leading key, so it carries no second index: every
-- index there costs on each load).
CREATE INDEX IF NOT EXISTS waf_events_1h_client_ip_idx ON waf_events_1h (client_ip, bucket DESC)
