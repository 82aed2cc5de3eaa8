"""One module per WAF log format; each exposes ``FORMAT``, ``parse`` and ``looks_like``."""
