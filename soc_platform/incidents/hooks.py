"""Where other features add work to the transaction that changes incidents.

Both functions run inside the caller's transaction (``conn`` is not committed here): what
they write commits or rolls back with the incident change itself (e.g. an alerting
outbox intent). They do nothing yet.
"""

from typing import Any

import psycopg


def after_change(
    conn: psycopg.Connection[Any],
    incident_id: str,
    old_status: str,
    new_status: str,
    actor: str,
) -> None:
    """An analyst (or the UI, or the CLI) changed an incident through
    :func:`soc_platform.incidents.lifecycle.apply_change`; called after the update and its
    audit rows."""
    return


def after_upsert(
    conn: psycopg.Connection[Any],
    rows_changed: list[dict[str, Any]],
    superseded: dict[str, str],
) -> None:
    """The engine stored incidents (``rows_changed``: the rows inserted or updated, with
    their analyst columns after the write) and replaced ``superseded`` (old id -> the id of
    its successor); called before the engine's transaction commits."""
    return
