SELECT version, dialect FROM soc_schema_version ORDER BY version
