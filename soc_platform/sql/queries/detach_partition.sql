ALTER TABLE waf_events DETACH PARTITION {partition}
