ALTER TABLE waf_events ADD COLUMN IF NOT EXISTS request_id       text
