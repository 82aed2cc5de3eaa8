-- An analyst's note becomes searchable (embedded search): appended to the incident's search
-- document, whose vector is generated from it (lifecycle.apply_change).
UPDATE incidents
SET search_doc = search_doc || ' ' || %(note)s
WHERE id = %(id)s
