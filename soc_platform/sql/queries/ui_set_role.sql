-- a new role; sessions stay (every request reads the role afresh: ui_session)
UPDATE ui_users SET role = %(role)s, updated_at = now() WHERE name = %(name)s RETURNING name
