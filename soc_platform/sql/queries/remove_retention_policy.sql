SELECT remove_retention_policy({relation}, if_exists => true)
