SELECT * FROM incidents WHERE id = %(id)s
