-- Incidents of schema 1-2 were grouped by client IP alone: that is their group.
UPDATE incidents
SET group_key = client_ip,
    group_fields = jsonb_build_object('c-ip', client_ip)
WHERE group_key = ''
