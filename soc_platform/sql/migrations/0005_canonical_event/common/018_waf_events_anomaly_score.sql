ALTER TABLE waf_events ADD COLUMN IF NOT EXISTS anomaly_score    integer
