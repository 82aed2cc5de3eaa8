-- An AS's minutes over a time range (the key leads with the bucket).
CREATE INDEX IF NOT EXISTS waf_events_geo_1m_as_number_idx
    ON waf_events_geo_1m (source_as_number, bucket DESC)
