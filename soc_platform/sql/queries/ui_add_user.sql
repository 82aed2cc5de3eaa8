INSERT INTO ui_users (name, role, password_hash) VALUES (%(name)s, %(role)s, %(password_hash)s)
