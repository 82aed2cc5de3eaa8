ALTER TABLE waf_events ADD COLUMN IF NOT EXISTS url_query        text
