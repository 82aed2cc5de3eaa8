-- The bucket key the refresh upserts on (NULLS NOT DISTINCT: unknown AS, country or rule).
CREATE UNIQUE INDEX IF NOT EXISTS waf_events_geo_1m_key
    ON waf_events_geo_1m (bucket, source_as_number, source_country, rule_id, action)
    NULLS NOT DISTINCT
