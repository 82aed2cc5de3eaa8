-- Audit rows, in the order given (ids follow it), stamped with the transaction's time.
INSERT INTO incident_audit (incident_id, at, actor, action, field, old, new, comment)
SELECT r.incident_id, now(), r.actor, r.action, r.field, r.old, r.new, r.comment
FROM unnest(
    %(incident_ids)s::text[],
    %(actors)s::text[],
    %(actions)s::text[],
    %(fields)s::text[],
    %(olds)s::text[],
    %(news)s::text[],
    %(comments)s::text[]
) WITH ORDINALITY AS r(incident_id, actor, action, field, old, new, comment, n)
ORDER BY r.n
RETURNING id, incident_id, at, actor, action, field, old, new, comment
