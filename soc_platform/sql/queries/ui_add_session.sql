-- a new session; expired ones are swept at the same time
WITH swept AS (DELETE FROM ui_sessions WHERE expires_at < now())
INSERT INTO ui_sessions (token_hash, user_name, csrf_token, expires_at)
VALUES (%(token_hash)s, %(user_name)s, %(csrf)s, now() + %(ttl)s::interval)
