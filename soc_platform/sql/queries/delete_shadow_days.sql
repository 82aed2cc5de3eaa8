DELETE FROM shadow_incidents
WHERE hunt = %(hunt)s
  AND day = ANY (%(days)s::date[])
