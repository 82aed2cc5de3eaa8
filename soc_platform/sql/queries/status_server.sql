-- soc-platform status: the server's version, whether TimescaleDB is installed in this
-- database, and the schema soc-platform set up (NULL when not set up yet).
SELECT
    current_setting('server_version') AS version,
    EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS timescaledb,
    to_regclass('soc_schema_version') IS NOT NULL AS set_up
