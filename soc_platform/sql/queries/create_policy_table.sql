-- The TimescaleDB policy settings last applied, so setup replaces a policy only when the
-- configured value changed.
CREATE TABLE IF NOT EXISTS soc_policy_applied (
    relation  text NOT NULL,
    policy    text NOT NULL,
    setting   text NOT NULL,
    PRIMARY KEY (relation, policy)
)
