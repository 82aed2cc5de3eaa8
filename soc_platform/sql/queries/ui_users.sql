-- The users, each with its open sessions: how many, and when the newest began (the last
-- sign-in still on record: a logout or an expiry removes a session).
SELECT u.name, u.role, u.created_at,
       count(s.token_hash) AS sessions,
       max(s.created_at) AS last_login
FROM ui_users AS u
LEFT JOIN ui_sessions AS s ON s.user_name = u.name AND s.expires_at > now()
GROUP BY u.name, u.role, u.created_at
ORDER BY u.name
