CREATE TABLE IF NOT EXISTS {partition} PARTITION OF waf_events FOR VALUES FROM ({lo}) TO ({hi})
