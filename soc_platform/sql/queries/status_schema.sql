-- soc-platform status: the newest schema version and the dialect it was applied with.
SELECT version, dialect FROM soc_schema_version ORDER BY version DESC LIMIT 1
