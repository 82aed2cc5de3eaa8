-- The sender's lease (soc_platform/alerts/sender.py): the backend pid of the session that
-- claimed the row and until when. A claim holds while that session lives and the lease
-- has not run out; a killed sender's rows are claimable again at once (at most a resend).
ALTER TABLE alert_outbox
    ADD COLUMN IF NOT EXISTS claimed_by integer,
    ADD COLUMN IF NOT EXISTS claimed_until timestamptz
