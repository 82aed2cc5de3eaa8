-- Incidents of the Sigma rules engine: any group-by (not only a client IP), scored severity
-- with its reasons, ATT&CK tactics, suppression, and the rule version that raised them.
ALTER TABLE incidents
    ADD COLUMN IF NOT EXISTS group_key        text     NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS group_fields     jsonb    NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS sources          text[]   NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS source_count     bigint   NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS target_count     bigint   NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS score            integer  NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS score_reasons    text[]   NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS status           text     NOT NULL DEFAULT 'open',
    ADD COLUMN IF NOT EXISTS suppression      text     NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS suppressed_count bigint   NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS rule_title       text     NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS rule_version     text     NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS attack_tactics   text[]   NOT NULL DEFAULT '{}'
