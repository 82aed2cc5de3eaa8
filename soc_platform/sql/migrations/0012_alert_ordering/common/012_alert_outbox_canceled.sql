-- 'canceled': a trigger not yet sent when its incident closed (kept as history, never sent).
ALTER TABLE alert_outbox
    DROP CONSTRAINT IF EXISTS alert_outbox_status_check,
    ADD CONSTRAINT alert_outbox_status_check
        CHECK (status IN ('pending', 'sent', 'dead', 'silenced', 'canceled'))
