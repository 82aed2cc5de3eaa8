SELECT add_retention_policy({relation}, drop_after => {interval}, if_not_exists => true)
