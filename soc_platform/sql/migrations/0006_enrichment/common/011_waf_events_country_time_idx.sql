-- The same question by country ("... from RU in the last hour?").
CREATE INDEX IF NOT EXISTS waf_events_country_time_idx
    ON waf_events (source_country, event_time DESC)
    WHERE source_country IS NOT NULL
