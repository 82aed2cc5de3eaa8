-- The analyst's side of an incident (README "Incident lifecycle"): who works it, how it
-- was closed, its notes, and where its status came from. `status_by` is the actor of the
-- last status change: the engine (`system`) may switch an incident between `open` and
-- `suppressed` only while it is the one that set the status.
ALTER TABLE incidents
    ADD COLUMN IF NOT EXISTS assignee          text,
    ADD COLUMN IF NOT EXISTS disposition       text,
    ADD COLUMN IF NOT EXISTS notes             text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS closed_at         timestamptz,
    ADD COLUMN IF NOT EXISTS status_changed_at timestamptz,
    ADD COLUMN IF NOT EXISTS status_by         text        NOT NULL DEFAULT 'system',
    ADD COLUMN IF NOT EXISTS reopened_count    integer     NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS previous_incident text
