ALTER TABLE waf_events ADD COLUMN IF NOT EXISTS host_criticality text
