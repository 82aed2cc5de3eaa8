-- The sender's claim: pending intents that are due, oldest first.
CREATE INDEX IF NOT EXISTS alert_outbox_due_idx
    ON alert_outbox (next_attempt_at)
    WHERE status = 'pending'
