SELECT u.name, u.role, s.csrf_token
FROM ui_sessions AS s
JOIN ui_users AS u ON u.name = s.user_name
WHERE s.token_hash = %(token_hash)s AND s.expires_at > now()
