SELECT status, count(*) AS n FROM alert_outbox GROUP BY status
