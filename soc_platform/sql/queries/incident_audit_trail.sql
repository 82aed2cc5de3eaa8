-- An incident's audit trail with its lineage: the incidents it superseded (audit rows
-- `inherited`, `old` = the predecessor), theirs, and so on. Rows are never deleted, so the
-- predecessors' rows are there even though the predecessors are gone.
WITH RECURSIVE lineage(id) AS (
    SELECT %(id)s::text
    UNION
    SELECT a.old
    FROM incident_audit AS a
    JOIN lineage AS l ON a.incident_id = l.id
    WHERE a.action = 'inherited' AND a.old IS NOT NULL
)
SELECT a.id, a.incident_id, a.at, a.actor, a.action, a.field, a.old, a.new, a.comment
FROM incident_audit AS a
WHERE a.incident_id IN (SELECT id FROM lineage)
ORDER BY a.at, a.id
