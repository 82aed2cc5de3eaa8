-- Closing an incident finds the rows its predecessors left behind.
CREATE INDEX IF NOT EXISTS alert_outbox_successor_idx
    ON alert_outbox (successor_id)
    WHERE successor_id IS NOT NULL
