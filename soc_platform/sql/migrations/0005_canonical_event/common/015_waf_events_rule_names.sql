ALTER TABLE waf_events ADD COLUMN IF NOT EXISTS rule_names       text[]
