-- Messages each destination was sent in the last minute (the per-destination rate limit).
SELECT destination, count(DISTINCT (message, attempt)) AS messages
FROM alert_deliveries
WHERE at > now() - interval '1 minute'
GROUP BY destination
