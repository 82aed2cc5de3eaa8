"""The outbox's decisions (pure): which notification intents an incident change writes,
and when a failed delivery is tried again."""

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from soc_platform.alerts.routes import Target
from soc_platform.correlation.scoring import LEVELS

#: incident statuses that notify nobody (allow-listed, or closed by an analyst)
QUIET_STATUSES = ("suppressed", "resolved", "false_positive")
#: attempts before an intent is dead
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_CAP = timedelta(minutes=10)


def backoff(attempt: int, rng: random.Random | None = None) -> timedelta:
    """Delay before try ``attempt + 1`` after ``attempt`` failures: exponential (2 s, 4 s,
    8 s ... capped at 10 min) with full jitter in its upper half, so a receiver that comes
    back is not hit by every sender at once."""
    rng = rng or random.Random()
    full = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(0, attempt - 1)))
    half: timedelta = full / 2
    return half + half * rng.random()


@dataclass(frozen=True)
class Prior:
    """An intent the outbox already holds for (incident, destination)."""

    destination: str
    severity: str
    epoch: int
    created_at: datetime
    dedup_key: str
    event: str = "trigger"
    status: str = "sent"


@dataclass(frozen=True)
class Intent:
    incident_id: str
    dedup_key: str
    route: str
    destination: str
    event: str  # trigger | resolve
    severity: str
    epoch: int
    group_key: str


def _rank(severity: str) -> int:
    return LEVELS.index(severity) if severity in LEVELS else -1


def trigger_intents(
    incident: Mapping[str, Any],
    targets: Sequence[Target],
    priors: Sequence[Prior],
    now: datetime,
) -> list[Intent]:
    """The trigger intents an inserted or updated incident writes: one per destination it
    has never notified; again only when its severity rose above every earlier notification
    of that destination, when it was resolved since (reopened), or the route's repeat
    interval passed since the last one (re-evaluations, late data, backfills and
    retro-hunts write nothing else). Suppressed (allow-listed) and closed (resolved, false
    positive) incidents notify nobody."""
    if incident.get("status", "open") in QUIET_STATUSES:
        return []
    severity = str(incident["severity"])
    intents = []
    for target in targets:
        mine = [p for p in priors if p.destination == target.destination]
        dedup = min(mine, key=lambda p: p.created_at).dedup_key if mine else incident["id"]
        triggers = [p for p in mine if p.event == "trigger"]
        latest = max(mine, key=lambda p: p.created_at) if mine else None
        if not triggers:
            epoch = 0
        elif latest is not None and (latest.event == "resolve" or latest.status == "canceled"):
            # closed (a resolve, or its unsent trigger canceled), then reopened (its
            # group's new run): a new state, notified again
            epoch = max(p.epoch for p in triggers) + 1
        else:
            mine = triggers
            last = max(mine, key=lambda p: (p.epoch, p.created_at))
            top = max(_rank(p.severity) for p in mine)
            if _rank(severity) > top:
                epoch = last.epoch  # a new severity: a new key within the epoch
            elif target.repeat_interval is not None and now - last.created_at >= (
                target.repeat_interval
            ):
                epoch = last.epoch + 1
            else:
                continue
        intents.append(
            Intent(
                incident_id=str(incident["id"]),
                dedup_key=dedup,
                route=target.route,
                destination=target.destination,
                event="trigger",
                severity=severity,
                epoch=epoch,
                group_key=target.group_key,
            )
        )
    return intents
