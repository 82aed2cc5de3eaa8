"""Alerting (README "Alerting"): routes, payloads, silences and backoff are pure
(``routes``, ``payloads``, ``silences``, ``policy``); the outbox (``outbox``) and the sender
(``sender``) do the I/O."""
