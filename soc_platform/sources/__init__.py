"""Where input lands: the landing directory, its ledger, the lifecycle and planning of
landing files, and synthetic traffic for demos and tests."""
