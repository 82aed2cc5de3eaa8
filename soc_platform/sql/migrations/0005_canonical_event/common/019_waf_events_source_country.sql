ALTER TABLE waf_events ADD COLUMN IF NOT EXISTS source_country   text
