"""Where other features add work to the transaction that changes incidents.

Both functions run inside the caller's transaction (``conn`` is not committed here): what
they write commits or rolls back with the incident change itself (e.g. an alerting
outbox intent). Alerting (README "Alerting") writes its notification intents here.
"""

from typing import Any

import psycopg

from soc_platform.alerts import outbox


def after_change(
    conn: psycopg.Connection[Any],
    incident_id: str,
    old_status: str,
    new_status: str,
    actor: str,
) -> None:
    """An analyst (or the UI, or the CLI) changed an incident through
    :func:`soc_platform.incidents.lifecycle.apply_change`; called after the update and its
    audit rows. Closing an incident writes alerting's ``resolve`` intents."""
    outbox.record_change(conn, incident_id, old_status, new_status)


def after_upsert(
    conn: psycopg.Connection[Any],
    rows_changed: list[dict[str, Any]],
    superseded: dict[str, str],
) -> None:
    """The engine stored incidents (``rows_changed``: the rows inserted or updated, with
    their analyst columns after the write) and replaced ``superseded`` (old id -> the id of
    its successor); called before the engine's transaction commits. Alerting carries the
    superseded incidents' notifications over and writes the trigger intents the routes
    ask for (once per incident, destination and severity; again after a repeat interval)."""
    outbox.record_upsert(conn, rows_changed, superseded)
