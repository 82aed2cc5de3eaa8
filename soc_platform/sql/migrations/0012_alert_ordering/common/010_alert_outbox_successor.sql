-- The incident that now holds a row's notifications when the row stayed behind at a merge
-- (queries/alert_carry_over.sql moves one row per key; the others keep their incident id):
-- closing that incident resolves their dedup keys too (README "Alerting"). Kept current
-- along chains of merges (a predecessor of a predecessor points at the live successor).
ALTER TABLE alert_outbox ADD COLUMN IF NOT EXISTS successor_id text
