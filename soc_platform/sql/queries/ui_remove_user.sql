-- the user's sessions go with it (ON DELETE CASCADE)
DELETE FROM ui_users WHERE name = %(name)s RETURNING name
