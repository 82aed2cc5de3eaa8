-- Whole-day refreshes (rebuilds): empty the level for the refreshed days first; the
-- refresh then inserts their groups afresh (and no anti-join is needed to find vanished
-- groups). Same transaction: readers see the old day until the commit.
DELETE FROM {table} AS a
USING unnest(%(los)s::timestamptz[], %(his)s::timestamptz[]) AS r(lo, hi)
WHERE a.{column} >= r.lo AND a.{column} < r.hi
