-- The claim's ordering guard: the pending rows of a (destination, dedup key).
CREATE INDEX IF NOT EXISTS alert_outbox_key_pending_idx
    ON alert_outbox (destination, dedup_key, id)
    WHERE status = 'pending'
