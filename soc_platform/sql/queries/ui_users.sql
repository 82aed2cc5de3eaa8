SELECT name, role, created_at FROM ui_users ORDER BY name
