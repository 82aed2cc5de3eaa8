ALTER TABLE waf_events ADD COLUMN IF NOT EXISTS observer_vendor  text
