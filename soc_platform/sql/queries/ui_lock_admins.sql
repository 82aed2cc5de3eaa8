-- The admins, locked until the transaction ends: a concurrent removal or demotion waits,
-- then sees this one's outcome (so two of them cannot remove the last two admins).
SELECT name FROM ui_users WHERE role = 'admin' ORDER BY name FOR UPDATE
