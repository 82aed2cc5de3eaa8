-- Per-(day, rule, IP) event-count changes of one partial refresh (plain dialect): the
-- one-minute rows of the touched minutes are added with sign -1 before their refresh and
-- +1 after it, so their sum is what the refresh changed.
CREATE TEMP TABLE IF NOT EXISTS agg_delta (
    day        timestamptz NOT NULL,
    rule_id    text,
    client_ip  inet        NOT NULL,
    n          bigint      NOT NULL
) ON COMMIT DELETE ROWS
