DELETE FROM ui_sessions WHERE token_hash = %(token_hash)s
