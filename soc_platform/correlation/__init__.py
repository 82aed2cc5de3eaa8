"""Detection logic that needs no I/O: the rule model, window planning, incident building."""
