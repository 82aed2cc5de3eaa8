-- ... or with that address among their sources (incidents grouped by host, e.g.).
CREATE INDEX IF NOT EXISTS incidents_sources_idx ON incidents USING gin (sources)
