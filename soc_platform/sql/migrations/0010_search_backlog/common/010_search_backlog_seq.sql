-- Orders the search backlog's entries: every (re-)queue of an incident takes the next value,
-- so a drain deletes only the entries it sent, not one queued again meanwhile.
CREATE SEQUENCE IF NOT EXISTS search_backlog_seq
