-- a new password (and optionally role) ends the user's sessions (ui_remove_user_sessions)
WITH updated AS (
    UPDATE ui_users
    SET password_hash = %(password_hash)s,
        role = coalesce(%(role)s::text, role),
        updated_at = now()
    WHERE name = %(name)s
    RETURNING name
), ended AS (
    DELETE FROM ui_sessions WHERE user_name IN (SELECT name FROM updated)
)
SELECT name FROM updated
