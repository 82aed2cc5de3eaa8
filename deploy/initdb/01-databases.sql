-- Extra databases of the compose stack (the hot store itself is POSTGRES_DB=soc).
CREATE DATABASE iceberg_catalog;
CREATE DATABASE dagster;
