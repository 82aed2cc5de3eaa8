-- Plain dialect: drop summary rows older than the aggregate's own retention.
DELETE FROM {table} WHERE {column} < %(before)s::timestamptz
