"""Turning rule matches into incidents: deterministic ids, descriptions, search text."""

import hashlib
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from soc_platform.correlation.rules import ThresholdRule
from soc_platform.models import Incident


def incident_id(rule_id: str, group: str, window_start: datetime) -> str:
    """Deterministic id: the same rule, group and window always give the same incident."""
    instant = window_start.astimezone(UTC).isoformat()  # same id in any zone
    key = f"{rule_id}\0{group}\0{instant}".encode()
    return "inc-" + hashlib.blake2b(key, digest_size=10).hexdigest()


def describe(rule: ThresholdRule, match: Mapping[str, Any]) -> str:
    """One sentence an analyst can read (and search: 'blocked attempts from 192.168')."""
    count = int(match["event_count"])
    blocked = int(match["blocked_count"])
    took = _duration((match["end_time"] - match["start_time"]).total_seconds())
    targets = list(match["targets"] or [])
    target_text = ", ".join(targets[:3]) + (
        f" and {len(targets) - 3} more" if len(targets) > 3 else ""
    )
    verdict = (
        f"all {count} blocked"
        if blocked == count
        else f"{blocked} blocked, {count - blocked} not blocked"
    )
    return (
        f"{rule.title}: {count} {rule.what} from {match['client_ip']} within {took} "
        f"({verdict}) against {target_text or 'unknown targets'}"
    )


def _duration(seconds: float) -> str:
    """'40 seconds', '1 minute', '7 minutes' (rounded up: 'within' must stay true)."""
    if seconds < 60:
        whole = max(1, math.ceil(seconds))
        return f"{whole} second" + ("s" if whole != 1 else "")
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute" + ("s" if minutes != 1 else "")


def window_end(rule: ThresholdRule, match: Mapping[str, Any]) -> datetime:
    """End of the match's run of windows (one window unless merged by ``merge_runs``)."""
    end: datetime = match.get("window_end") or match["window_start"] + rule.window
    return end


def build_incident(rule: ThresholdRule, match: Mapping[str, Any]) -> Incident:
    return Incident(
        id=incident_id(rule.id, str(match["client_ip"]), match["window_start"]),
        type=rule.incident_type,
        rule=rule.id,
        severity=rule.severity,
        client_ip=str(match["client_ip"]),
        targets=list(match["targets"] or []),
        start_time=match["start_time"],
        end_time=match["end_time"],
        window_start=match["window_start"],
        window_end=window_end(rule, match),
        event_count=int(match["event_count"]),
        blocked_count=int(match["blocked_count"]),
        rule_ids=[str(r) for r in match["rule_ids"] or []],
        description=describe(rule, match),
        attack_techniques=list(rule.attack_techniques),
    )


def search_text(incident: Incident) -> str:
    """The text the embedded search indexes: description, type, rule, IP, targets, ATT&CK."""
    parts = [
        incident.description,
        incident.type.replace("_", " "),
        incident.rule,
        incident.severity,
        incident.client_ip,
        *incident.targets,
        *incident.rule_ids,
        *incident.attack_techniques,
    ]
    return " ".join(parts)
