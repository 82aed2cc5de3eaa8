-- Per source, the evidence that tells a bad file from an outage: when a run last
-- succeeded, and when a run of never-failed files last failed.
CREATE TABLE IF NOT EXISTS landing_sources (
    source                text PRIMARY KEY,
    last_success_at       timestamptz,
    last_fresh_failure_at timestamptz
)
