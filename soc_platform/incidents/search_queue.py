"""The write side of the search backlog (soc_platform/search/backlog.py, README "Search"):
incidents queued for the search backend in the transaction that changes them (the
correlation engine's write in :mod:`~soc_platform.incidents.tables`, analyst changes in
:func:`~soc_platform.incidents.lifecycle.apply_change`), so the queue commits or rolls back
with the change itself."""

from collections.abc import Iterable
from typing import Any

import psycopg

from soc_platform import sql

UPSERT = "upsert"
DELETE = "delete"


def enqueue(
    conn: psycopg.Connection[Any], upserts: Iterable[str] = (), deletes: Iterable[str] = ()
) -> int:
    """Queue incidents for the backend in the caller's transaction (an id both upserted and
    deleted is upserted: it exists)."""
    ops = dict.fromkeys(deletes, DELETE)
    ops.update(dict.fromkeys(upserts, UPSERT))
    if not ops:
        return 0
    ids = sorted(ops)
    with conn.cursor() as cur:
        cur.execute(sql.query("enqueue_search_backlog"), {"ids": ids, "ops": [ops[i] for i in ids]})
    return len(ids)
