-- Schema 1 rewrote a day's summary with an unlocked delete + insert, so two concurrent
-- refreshes may have left duplicate (day, rule_id) rows that the key below would refuse.
-- The summary is rebuilt from the events by 043, so start it empty.
DELETE FROM waf_events_daily_summary
