INSERT INTO soc_policy_applied (relation, policy, setting) VALUES (%(relation)s, %(policy)s, %(setting)s)
ON CONFLICT (relation, policy) DO UPDATE SET setting = excluded.setting
