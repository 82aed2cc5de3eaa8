"""Turning rule matches into incidents: deterministic ids, scores, descriptions, search text."""

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from soc_platform.correlation.assets_map import AssetCriticality
from soc_platform.correlation.compiler import CompiledRule
from soc_platform.correlation.config import AllowEntry, DetectionConfig
from soc_platform.correlation.scoring import ScoreInput, score
from soc_platform.models import Incident


def incident_id(rule_id: str, group: str, window_start: datetime) -> str:
    """Deterministic id: the same rule, group and window always give the same incident."""
    instant = window_start.astimezone(UTC).isoformat()  # same id in any zone
    key = f"{rule_id}\0{group}\0{instant}".encode()
    return "inc-" + hashlib.blake2b(key, digest_size=10).hexdigest()


def group_values(rule: CompiledRule, group_key: str) -> dict[str, str]:
    """The group-by field -> value map behind a group key (see compiler: one field is its
    text, several are a JSON array)."""
    if not rule.group_fields:
        return {}
    if len(rule.group_fields) == 1:
        return {rule.group_fields[0]: group_key}
    values = json.loads(group_key)
    return {f: "" if v is None else str(v) for f, v in zip(rule.group_fields, values, strict=True)}


def _duration(seconds: float) -> str:
    """'40 seconds', '1 minute', '7 minutes' (rounded up: 'within' must stay true)."""
    if seconds < 60:
        whole = max(1, math.ceil(seconds))
        return f"{whole} second" + ("s" if whole != 1 else "")
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute" + ("s" if minutes != 1 else "")


def describe(rule: CompiledRule, match: Mapping[str, Any], group: Mapping[str, str]) -> str:
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
    sources = list(match.get("sources") or [])
    n_sources = int(match.get("source_count") or len(sources))
    if rule.ip_field and group.get(rule.ip_field):
        who = group[rule.ip_field]
    elif n_sources == 1 and sources:
        who = sources[0]
    else:
        shown = ", ".join(sources[:3]) + (" and others" if n_sources > 3 else "")
        who = f"{n_sources} sources ({shown})"
    others = {k: v for k, v in group.items() if k != rule.ip_field}
    scope = "".join(f" {k}={v}" for k, v in others.items())
    return (
        f"{rule.title}: {count} {rule.noun} from {who} within {took} ({verdict}) "
        f"against {target_text or 'unknown targets'}{scope and ' [' + scope.strip() + ']'}"
    )


@dataclass(frozen=True)
class Context:
    """What an incident is judged by beyond its events: the deployment's detection config
    (allow-lists) and the asset-criticality map."""

    config: DetectionConfig
    assets: AssetCriticality


def hosts_of(targets: list[str]) -> list[str]:
    """Host part of ``host + path`` targets."""
    return [t.split("/", 1)[0] for t in targets if t]


def build_incident(
    rule: CompiledRule,
    match: Mapping[str, Any],
    *,
    window_end: datetime,
    context: Context,
    suppressed_count: int = 0,
) -> Incident:
    group_key = str(match["group_key"])
    group = group_values(rule, group_key)
    sources = [str(s) for s in match.get("sources") or []]
    source_count = int(match.get("source_count") or len(sources))
    client_ip = group.get(rule.ip_field or "", "") or (sources[0] if source_count == 1 else "")
    targets = list(match["targets"] or [])
    hosts = [str(h) for h in match.get("hosts") or []] or hosts_of(targets)
    event_count = int(match["event_count"])
    scored = score(
        ScoreInput(
            level=rule.level,
            event_count=event_count,
            threshold=max(1, math.ceil(rule.threshold)),
            target_count=int(match.get("target_count") or len(targets)),
            blocked_count=min(int(match["blocked_count"]), event_count),
            criticality=context.assets.highest(hosts),
            # a value_count threshold counts distinct values, not events
            measure=int(match.get("value_count") or 0) if rule.kind == "value_count" else None,
        )
    )
    # allow-listed only when every source and every targeted host is: one request to an
    # allowed host must not hide a campaign against the others
    allowed = None
    if client_ip or source_count <= len(sources):  # every source is known
        allowed = _allowed(rule, context, client_ip, sources, hosts)
    return Incident(
        id=incident_id(rule.name, group_key, match["window_start"]),
        type=rule.incident_type,
        rule=rule.name,
        severity=scored.level,
        client_ip=client_ip,
        targets=targets,
        start_time=match["start_time"],
        end_time=match["end_time"],
        window_start=match["window_start"],
        window_end=window_end,
        event_count=event_count,
        blocked_count=int(match["blocked_count"]),
        rule_ids=[str(r) for r in match["rule_ids"] or []],
        description=describe(rule, match, group),
        attack_techniques=list(rule.techniques),
        group_key=group_key,
        group=group,
        sources=sources,
        source_count=source_count,
        target_count=int(match.get("target_count") or len(targets)),
        score=scored.value,
        score_reasons=list(scored.reasons),
        status="suppressed" if allowed else "open",
        suppression=f"allow-list: {allowed.name}" if allowed else "",
        suppressed_count=suppressed_count,
        rule_title=rule.title,
        rule_version=rule.version,
        attack_tactics=list(rule.tactics),
    )


def _allowed(
    rule: CompiledRule, context: Context, client_ip: str, sources: list[str], hosts: list[str]
) -> AllowEntry | None:
    ips: list[str | None] = [client_ip] if client_ip else [*sources] or [None]
    targets: list[str | None] = [*hosts] or [None]
    first: AllowEntry | None = None
    for ip in ips:
        for host in targets:
            entry = context.config.allowed(rule.name, ip, host)
            if entry is None:
                return None
            first = first or entry
    return first


def search_text(incident: Incident) -> str:
    """The text the embedded search indexes: description, type, rule, IPs, targets, ATT&CK."""
    parts = [
        incident.description,
        incident.type.replace("_", " "),
        incident.rule,
        incident.rule_title,
        incident.severity,
        incident.status,
        incident.client_ip,
        *incident.sources,
        *incident.group.values(),
        *incident.targets,
        *incident.rule_ids,
        *incident.attack_techniques,
        *incident.attack_tactics,
    ]
    return " ".join(dict.fromkeys(p for p in parts if p))
