-- Analyst UI accounts (soc_platform/ui/auth.py). Passwords are stored as a PBKDF2-SHA256
-- hash with a per-user random salt ("pbkdf2_sha256$iterations$salt_hex$hash_hex").
CREATE TABLE IF NOT EXISTS ui_users (
    name          text        PRIMARY KEY,
    role          text        NOT NULL CHECK (role IN ('viewer', 'responder', 'admin')),
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
)
