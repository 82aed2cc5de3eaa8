-- Dead letters (the asset check and `soc-platform alerts dead`).
CREATE INDEX IF NOT EXISTS alert_outbox_dead_idx
    ON alert_outbox (created_at)
    WHERE status = 'dead'
