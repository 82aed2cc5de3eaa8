-- An incident whose run now starts earlier, or that joined another run, has a new id (its
-- first window's): remove the incidents of the same rule and group that began inside one
-- of the new incidents' runs. Set-based: one statement for the whole batch.
DELETE FROM incidents AS old
USING unnest(
    %(rules)s::text[],
    %(group_keys)s::text[],
    %(window_starts)s::timestamptz[],
    %(window_ends)s::timestamptz[],
    %(ids)s::text[]
) AS new(rule, group_key, window_start, window_end, id)
WHERE old.rule = new.rule
  AND old.group_key = new.group_key
  AND old.window_start >= new.window_start
  AND old.window_start < new.window_end
  AND old.id <> ALL (%(ids)s::text[])
RETURNING old.id
