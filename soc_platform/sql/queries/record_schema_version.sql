INSERT INTO soc_schema_version (version, name, dialect) VALUES (%(version)s, %(name)s, %(dialect)s)
ON CONFLICT (version) DO NOTHING
