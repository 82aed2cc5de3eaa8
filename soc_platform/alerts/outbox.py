"""The alert outbox (I/O): notification intents written in the caller's transaction (the
incident change that causes them, through :mod:`soc_platform.incidents.hooks`), silences,
dead letters. The sender (:mod:`soc_platform.alerts.sender`) delivers what is pending.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from soc_platform import sql
from soc_platform.alerts import policy
from soc_platform.alerts.routes import AlertConfig, targets
from soc_platform.alerts.silences import silence_matches

#: lifecycle statuses that close an incident (a resolve notification)
CLOSED = ("resolved", "false_positive")
#: the outbox's statuses (counted by ``alerts status``, the UI and the asset check)
STATUSES = ("pending", "sent", "dead", "silenced", "canceled")

_config: AlertConfig | None = None
_config_loaded = False


def configure(config: AlertConfig | None) -> None:
    """Fix the alerting configuration the hooks use (default: the settings', read at each
    use, so a long-lived process follows its environment)."""
    global _config, _config_loaded
    _config, _config_loaded = config, True


def active_config() -> AlertConfig | None:
    """The configuration the hooks write intents for; None: alerting is not configured."""
    if _config_loaded:
        return _config
    from soc_platform.settings import load_settings

    return load_settings().alerts


@dataclass(frozen=True)
class Silence:
    id: int
    matchers: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str
    active: bool = True


def _json_ready(row: Mapping[str, Any]) -> dict[str, Any]:
    """An incident row as JSON (the snapshot the notification is built from)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, Jsonb):
            value = value.obj
        if isinstance(value, datetime):
            value = value.astimezone(UTC).isoformat()
        if key == "search_doc":
            continue
        out[key] = value
    return out


def _silences(conn: psycopg.Connection[Any]) -> list[Silence]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.query("alert_active_silences"))
        return [
            Silence(
                r["id"],
                dict(r["matchers"]),
                r["starts_at"],
                r["ends_at"],
                r["comment"],
                r["created_by"],
            )
            for r in cur.fetchall()
        ]


def _insert(
    conn: psycopg.Connection[Any],
    intents: Sequence[policy.Intent],
    snapshots: Mapping[str, dict[str, Any]],
    now: datetime,
) -> int:
    if not intents:
        return 0
    silences = _silences(conn)
    params = []
    for intent in intents:
        snapshot = snapshots[intent.incident_id]
        # silences hold triggers back; a resolve is written only for a key whose trigger
        # may have reached its destination, so silencing it would leave that alert open
        silence = next(
            (
                s
                for s in silences
                if intent.event == "trigger"
                and silence_matches(s.matchers, snapshot, intent.route, intent.destination)
            ),
            None,
        )
        params.append(
            {
                "incident_id": intent.incident_id,
                "dedup_key": intent.dedup_key,
                "route": intent.route,
                "destination": intent.destination,
                "event": intent.event,
                "severity": intent.severity,
                "epoch": intent.epoch,
                "group_key": intent.group_key,
                "incident": Jsonb(snapshot),
                "status": "silenced" if silence else "pending",
                "silence_id": silence.id if silence else None,
                "created_at": now,
            }
        )
    with conn.cursor() as cur:
        cur.executemany(sql.query("alert_insert_intent"), params)
        return max(0, int(cur.rowcount))


def _incidents(conn: psycopg.Connection[Any], ids: Sequence[str]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.query("alert_incidents"), {"ids": list(ids)})
        return list(cur.fetchall())


def _priors(conn: psycopg.Connection[Any], ids: Sequence[str]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.query("alert_priors"), {"ids": list(ids)})
        return list(cur.fetchall())


def record_upsert(
    conn: psycopg.Connection[Any],
    rows: Sequence[Mapping[str, Any]],
    superseded: Mapping[str, str],
    config: AlertConfig | None = None,
    now: datetime | None = None,
) -> int:
    """Write the trigger intents of inserted or updated incidents (``rows``: their
    columns) after carrying superseded incidents' notifications over to their successors,
    in the caller's transaction. Returns how many intents were written."""
    config = config or active_config()
    if config is None:
        return 0
    now = now or datetime.now(UTC)
    if superseded:
        pairs = sorted(superseded.items())
        with conn.cursor() as cur:
            cur.execute(
                sql.query("alert_carry_over"),
                {"old_ids": [o for o, _ in pairs], "new_ids": [n for _, n in pairs]},
            )
    if not rows:
        return 0
    snapshots = {str(r["id"]): _json_ready(r) for r in rows}
    for stored in _incidents(conn, list(snapshots)):  # every column, as committed
        snapshots[str(stored["id"])] = _json_ready(stored)
    priors_by_id: dict[str, list[policy.Prior]] = {}
    for p in _priors(conn, list(snapshots)):
        priors_by_id.setdefault(p["incident_id"], []).append(
            policy.Prior(
                p["destination"],
                p["severity"],
                p["epoch"],
                p["created_at"],
                p["dedup_key"],
                p["event"],
                p["status"],
            )
        )
    intents: list[policy.Intent] = []
    for incident_id, snapshot in snapshots.items():
        intents += policy.trigger_intents(
            snapshot,
            targets(config.routes, snapshot),
            priors_by_id.get(incident_id, []),
            now,
        )
    return _insert(conn, intents, snapshots, now)


def record_change(
    conn: psycopg.Connection[Any],
    incident_id: str,
    old_status: str | None,
    new_status: str | None,
    config: AlertConfig | None = None,
) -> int:
    """A lifecycle change: closing an incident (resolved, false positive) cancels its
    triggers not yet sent (its own and those merged predecessors left behind with it as
    their successor), then writes a ``resolve`` for every (destination, dedup key) a
    trigger of them may have reached (sent, being delivered, attempted; not silenced),
    numbered by that key's latest trigger epoch. Returns how many intents were written."""
    config = config or active_config()
    if config is None or new_status not in CLOSED or old_status in CLOSED:
        return 0
    found = _incidents(conn, [incident_id])
    if not found:
        return 0
    snapshot = _json_ready(found[0])
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.query("alert_cancel_triggers"), {"id": incident_id})
        cur.execute(sql.query("alert_resolve_keys"), {"id": incident_id})
        keys = list(cur.fetchall())
    intents = [
        policy.Intent(
            incident_id=incident_id,
            dedup_key=k["dedup_key"],
            route=k["route"],
            destination=k["destination"],
            event="resolve",
            severity=str(snapshot.get("severity", "")),
            epoch=int(k["epoch"]),  # its own key's latest trigger epoch
            group_key=k["group_key"],
        )
        for k in keys
        if k["destination"] in config.destinations
    ]
    return _insert(conn, intents, {incident_id: snapshot}, datetime.now(UTC))


# --------------------------------------------------------------------------------------
# Silences, dead letters, counts (the CLI and the asset check)
# --------------------------------------------------------------------------------------


def add_silence(
    conn: psycopg.Connection[Any],
    matchers: Mapping[str, str],
    duration: timedelta,
    comment: str,
    created_by: str,
) -> tuple[int, datetime]:
    with conn.cursor() as cur:
        cur.execute(
            sql.query("alert_add_silence"),
            {
                "matchers": Jsonb(dict(matchers)),
                "duration": duration,
                "comment": comment,
                "created_by": created_by,
            },
        )
        row = cur.fetchone()
        assert row is not None
        return int(row[0]), row[1]


def list_silences(conn: psycopg.Connection[Any], *, include_expired: bool = False) -> list[Silence]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.query("alert_list_silences"), {"all": include_expired})
        return [
            Silence(
                r["id"],
                dict(r["matchers"]),
                r["starts_at"],
                r["ends_at"],
                r["comment"],
                r["created_by"],
                bool(r["active"]),
            )
            for r in cur.fetchall()
        ]


def expire_silence(conn: psycopg.Connection[Any], silence_id: int) -> bool:
    with conn.cursor() as cur:
        cur.execute(sql.query("alert_expire_silence"), {"id": silence_id})
        return cur.fetchone() is not None


def dead_letters(conn: psycopg.Connection[Any], limit: int = 100) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.query("alert_dead"), {"limit": limit})
        return list(cur.fetchall())


def retry_dead(conn: psycopg.Connection[Any], outbox_id: int | None = None) -> int:
    with conn.cursor() as cur:
        cur.execute(sql.query("alert_retry_dead"), {"id": outbox_id})
        return len(cur.fetchall())


def counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    with conn.cursor() as cur:
        cur.execute(sql.query("alert_counts"))
        found = {str(s): int(n) for s, n in cur.fetchall()}
    return {s: found.get(s, 0) for s in STATUSES}


def stale_due(conn: psycopg.Connection[Any], wait_seconds: float) -> int:
    """How many pending notifications have been due for ``wait_seconds`` or more."""
    with conn.cursor() as cur:
        cur.execute(sql.query("alert_stale_due"), {"wait": timedelta(seconds=wait_seconds)})
        row = cur.fetchone()
        return int(row[0]) if row else 0
