SELECT setting FROM soc_policy_applied WHERE relation = %(relation)s AND policy = %(policy)s
