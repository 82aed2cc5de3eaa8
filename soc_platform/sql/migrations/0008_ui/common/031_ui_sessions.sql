-- Server-side UI sessions: the cookie holds a random token, the table its SHA-256 (a leaked
-- table does not give usable cookies), the CSRF token and the expiry.
CREATE TABLE IF NOT EXISTS ui_sessions (
    token_hash text        PRIMARY KEY,
    user_name  text        NOT NULL REFERENCES ui_users (name) ON DELETE CASCADE,
    csrf_token text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
)
