-- Columnstore compression of chunks older than SOC_HOT_COMPRESS_AFTER_DAYS (the policy is
-- applied by the setup step from settings).
--   segmentby rule_id: low cardinality (hundreds of CRS rules, not millions of IPs), so
--     each segment holds thousands of rows and compresses well, and every detection rule
--     filters on the rule family first: segments of other rules are skipped without being
--     decompressed.
--   orderby client_ip, event_time DESC: rules and analysts then group or filter by source
--     IP over a time range; ordering by IP inside a segment gives tight min/max metadata
--     per batch on client_ip (an IP lookup touches few batches) and keeps each IP's
--     events adjacent, in time order, for the window aggregation.
ALTER TABLE waf_events SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'rule_id',
    timescaledb.compress_orderby = 'client_ip, event_time DESC'
)
