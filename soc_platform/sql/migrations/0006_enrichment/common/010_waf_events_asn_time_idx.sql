-- Analysts ask by autonomous system ("how many SQL injection attempts came from AS 12345
-- in the last 15 minutes?", queries/sqli_from_asn.sql): the AS's events of a time range
-- are one index range, whatever else the table holds. Partial: rows without an AS number
-- (private addresses, unknown networks, events loaded before enrichment) are not indexed.
CREATE INDEX IF NOT EXISTS waf_events_as_number_time_idx
    ON waf_events (source_as_number, event_time DESC)
    WHERE source_as_number IS NOT NULL
