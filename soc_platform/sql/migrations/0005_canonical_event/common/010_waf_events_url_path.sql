-- The canonical event (issue 11): columns every format fills where it can, and the
-- enrichment columns. Nullable, without default: rows loaded before read NULL, and adding
-- them is a catalog change only (also on compressed TimescaleDB chunks). One column a
-- statement: TimescaleDB takes one ADD COLUMN per ALTER on a compressed hypertable.
ALTER TABLE waf_events ADD COLUMN IF NOT EXISTS url_path         text
