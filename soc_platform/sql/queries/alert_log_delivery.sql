INSERT INTO alert_deliveries (outbox_id, message, destination, attempt, ok, http_status, error)
VALUES (%(outbox_id)s, %(message)s, %(destination)s, %(attempt)s, %(ok)s, %(http_status)s,
        %(error)s)
