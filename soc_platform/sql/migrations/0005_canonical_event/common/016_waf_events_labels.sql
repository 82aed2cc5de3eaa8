ALTER TABLE waf_events ADD COLUMN IF NOT EXISTS labels           text[]
