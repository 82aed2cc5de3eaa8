-- A rule's stored incidents of some groups reaching into [lo, hi): the runs a new run may
-- fold into within the suppression period.
SELECT group_key, window_start, window_end
FROM incidents
WHERE rule = %(rule)s
  AND group_key = ANY (%(groups)s::text[])
  AND window_start < %(hi)s::timestamptz
  AND window_end > %(lo)s::timestamptz
ORDER BY group_key, window_start
