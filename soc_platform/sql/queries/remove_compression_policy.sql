SELECT remove_compression_policy({relation}, if_exists => true)
