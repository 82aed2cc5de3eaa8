SELECT name, role, password_hash FROM ui_users WHERE name = %(name)s
