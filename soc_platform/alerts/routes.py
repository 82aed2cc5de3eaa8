"""Alert routes: which incidents notify which destinations (pure; README "Alerting").

Parsed from the YAML file ``SOC_ALERT_ROUTES`` names::

    destinations:
      soc-webhook: {type: webhook, url_env: SOC_HOOK_URL, secret_env: SOC_HOOK_SECRET}
      oncall:      {type: pagerduty, routing_key_env: PD_ROUTING_KEY}
      chat:        {type: slack, url_env: SLACK_WEBHOOK_URL}
      teams:       {type: teams, url_env: TEAMS_WEBHOOK_URL}
      mail:        {type: email, host: smtp.example.org, port: 587, starttls: true,
                    username: soc, password_env: SMTP_PASSWORD,
                    from: soc@example.org, to: [secops@example.org]}
    routes:
      - name: critical to on-call
        match: {severity: critical}
        destinations: [oncall, chat]
        repeat_interval: 4h
      - name: sqli
        match: {severity: medium, rules: [waf-sqli-burst], tactics: [initial-access],
                techniques: [T1190], host_criticality: high}
        destinations: [soc-webhook]
        group_by: [rule, source_net]

Secrets (webhook URLs, routing keys, the SMTP password) are never in the file: it names
environment variables (``*_env``), which :mod:`soc_platform.settings` resolves. Every
problem is reported at once with its file, route and field (``ConfigFileError``).
"""

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from soc_platform.correlation.config import (
    ConfigFileError,
    at,
    check_keys,
    did_you_mean,
    load_yaml,
    parse_duration,
    show,
)
from soc_platform.correlation.scoring import CRITICALITIES, LEVELS
from soc_platform.errors import ConfigurationError

KIND = "alert routes"
DESTINATION_TYPES = ("webhook", "slack", "teams", "pagerduty", "email")
GROUP_FIELDS = ("rule", "client_ip", "source_net", "severity", "type")
#: PagerDuty's public Events API v2 endpoint (developer.pagerduty.com, "Send an Alert Event")
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
_SECRET_SEGMENT = 8  # path segments of a secret URL this long are masked on their own
_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOP_KEYS = ("destinations", "routes")
_ROUTE_KEYS = ("name", "match", "destinations", "group_by", "repeat_interval")
_MATCH_KEYS = ("severity", "rules", "tactics", "techniques", "host_criticality")
_DEST_KEYS: dict[str, tuple[str, ...]] = {
    "webhook": ("type", "url", "url_env", "secret_env", "rate_per_minute", "timeout"),
    "slack": ("type", "url", "url_env", "rate_per_minute", "timeout"),
    "teams": ("type", "url", "url_env", "rate_per_minute", "timeout"),
    "pagerduty": ("type", "url", "routing_key_env", "rate_per_minute", "timeout"),
    "email": (
        "type",
        "host",
        "port",
        "starttls",
        "username",
        "password_env",
        "from",
        "to",
        "rate_per_minute",
        "timeout",
    ),
}


@dataclass(frozen=True)
class Destination:
    """Where notifications go. ``*_env`` fields name environment variables; their values
    are in :attr:`AlertConfig.secrets`, never here."""

    name: str
    type: str
    url: str | None = None  # a URL without secrets (e.g. PagerDuty's endpoint)
    url_env: str | None = None  # the variable holding a secret URL (Slack, Teams, webhook)
    secret_env: str | None = None  # webhook: the HMAC key's variable
    routing_key_env: str | None = None  # pagerduty
    host: str | None = None  # email
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password_env: str | None = None
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    rate_per_minute: int = 60  # per-destination rate limit of the sender
    timeout: float = 10.0  # seconds per request

    @property
    def secret_vars(self) -> tuple[str, ...]:
        names = (self.url_env, self.secret_env, self.routing_key_env, self.password_env)
        return tuple(n for n in names if n)


@dataclass(frozen=True)
class Match:
    """Every given criterion must hold; empty lists match anything."""

    severity: str = "informational"  # at least this level
    rules: tuple[str, ...] = ()
    tactics: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    host_criticality: str | None = None  # at least this criticality of a target


@dataclass(frozen=True)
class Route:
    name: str
    match: Match
    destinations: tuple[str, ...]
    group_by: tuple[str, ...] = ("rule", "source_net")
    repeat_interval: timedelta | None = None  # None: never repeat an unchanged incident


@dataclass(frozen=True)
class AlertConfig:
    """The resolved alerting configuration: routes, destinations and the secrets their
    variables hold (kept out of ``repr``)."""

    routes: tuple[Route, ...]
    destinations: Mapping[str, Destination]
    ui_url: str = "http://127.0.0.1:8080"
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    source: str = "SOC_ALERT_WEBHOOK_URL"

    def secret(self, var: str | None) -> str | None:
        return self.secrets.get(var) if var else None

    def destination_url(self, dest: Destination) -> str:
        url = self.secret(dest.url_env) or dest.url
        if url is None and dest.type == "pagerduty":
            return PAGERDUTY_URL
        if url is None:
            raise ConfigurationError(f"alert destination {dest.name!r} has no URL")
        return url

    @property
    def secret_values(self) -> list[str]:
        """Every secret value, for :func:`soc_platform.redact.redact_text`; a secret URL
        (a Slack or Teams webhook: its path is the credential) also by its path, query and
        longer path segments, which errors may quote without the rest."""
        found: list[str] = []
        for value in self.secrets.values():
            if not value:
                continue
            found.append(value)
            if value.startswith(("http://", "https://")):
                parts = urlsplit(value)
                found += [p for p in (parts.path, parts.query) if len(p) > 1]
                found += [seg for seg in parts.path.split("/") if len(seg) >= _SECRET_SEGMENT]
        # longest first: a path is masked whole, not around a masked segment
        return sorted(set(found), key=len, reverse=True)


#: the variables of the one-variable configuration (README "Alerting")
WEBHOOK_URL_VAR = "SOC_ALERT_WEBHOOK_URL"
WEBHOOK_SECRET_VAR = "SOC_ALERT_WEBHOOK_SECRET"


def simple_config(has_secret: bool) -> tuple[tuple[Route, ...], dict[str, Destination]]:
    """``SOC_ALERT_WEBHOOK_URL`` alone: every incident of severity high or above to that
    generic webhook, signed with ``SOC_ALERT_WEBHOOK_SECRET`` when it is set."""
    dest = Destination(
        name="webhook",
        type="webhook",
        url_env=WEBHOOK_URL_VAR,
        secret_env=WEBHOOK_SECRET_VAR if has_secret else None,
    )
    route = Route(name="default", match=Match(severity="high"), destinations=("webhook",))
    return (route,), {"webhook": dest}


def parse_routes(
    text: str, source: str = "<string>"
) -> tuple[tuple[Route, ...], dict[str, Destination]]:
    """Parse and validate a routes file.

    Raises:
        ConfigFileError: every problem, each with its route and field.
    """
    raw = load_yaml(text, KIND, source)
    problems: list[str] = []
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigFileError(KIND, source, [f"must be a mapping, got {show(raw)}"])
    check_keys(raw, _TOP_KEYS, "", problems)
    dests: dict[str, Destination] = {}
    raw_dests = raw.get("destinations") or {}
    if not isinstance(raw_dests, Mapping):
        problems.append(at("destinations", f"must be a mapping, got {show(raw_dests)}"))
        raw_dests = {}
    for name, spec in raw_dests.items():
        dest = _destination(str(name), spec, f"destinations.{name}", problems)
        if dest is not None:
            dests[dest.name] = dest
    routes: list[Route] = []
    raw_routes = raw.get("routes") or []
    if not isinstance(raw_routes, list):
        problems.append(at("routes", f"must be a list, got {show(raw_routes)}"))
        raw_routes = []
    if not raw_routes and not problems:
        problems.append("routes: at least one route is needed")
    seen: set[str] = set()
    for i, spec in enumerate(raw_routes):
        route = _route(spec, i, raw_dests, problems)
        if route is None:
            continue
        if route.name in seen:
            problems.append(f"route {route.name!r}: name used twice")
        seen.add(route.name)
        routes.append(route)
    if problems:
        raise ConfigFileError(KIND, source, problems)
    return tuple(routes), dests


def _strings(raw: object, path: str, problems: list[str]) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
        problems.append(at(path, f"must be a list of names, got {show(raw)}"))
        return ()
    return tuple(raw)


def _var(spec: Mapping[str, Any], key: str, path: str, problems: list[str]) -> str | None:
    value = spec.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not _VAR.fullmatch(value):
        problems.append(
            at(f"{path}.{key}", f"must name an environment variable, got {show(value)}")
        )
        return None
    return value


def _destination(name: str, spec: object, path: str, problems: list[str]) -> Destination | None:
    if not isinstance(spec, Mapping):
        problems.append(at(path, f"must be a mapping, got {show(spec)}"))
        return None
    kind = spec.get("type")
    if kind not in DESTINATION_TYPES:
        hint = did_you_mean(kind, DESTINATION_TYPES)
        problems.append(
            at(f"{path}.type", f"must be one of {', '.join(DESTINATION_TYPES)}, got {kind!r}{hint}")
        )
        return None
    check_keys(spec, _DEST_KEYS[kind], path, problems)
    before = len(problems)
    url = spec.get("url")
    if url is not None and (
        not isinstance(url, str) or not url.startswith(("http://", "https://"))
    ):
        problems.append(at(f"{path}.url", "must be an http:// or https:// URL"))
    if url is not None and kind != "pagerduty":
        problems.append(
            at(f"{path}.url", f"a {kind} URL is a secret: name its variable with url_env instead")
        )
    url_env = _var(spec, "url_env", path, problems)
    if kind in ("webhook", "slack", "teams") and url_env is None:
        problems.append(at(f"{path}.url_env", "is required (the variable holding the URL)"))
    routing = _var(spec, "routing_key_env", path, problems)
    if kind == "pagerduty" and routing is None:
        problems.append(at(f"{path}.routing_key_env", "is required"))
    recipients: tuple[str, ...] = ()
    if kind == "email":
        problems.extend(
            at(f"{path}.{key}", "is required")
            for key in ("host", "from")
            if not isinstance(spec.get(key), str) or not spec.get(key)
        )
        recipients = _strings(spec.get("to"), f"{path}.to", problems)
        if not recipients:
            problems.append(at(f"{path}.to", "needs at least one address"))
    port = spec.get("port", 587 if spec.get("starttls") else 25)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        problems.append(at(f"{path}.port", f"must be a TCP port number, got {show(port)}"))
        port = 25
    rate = spec.get("rate_per_minute", 60)
    if isinstance(rate, bool) or not isinstance(rate, int) or rate < 1:
        problems.append(at(f"{path}.rate_per_minute", f"must be at least 1, got {show(rate)}"))
        rate = 60
    timeout = spec.get("timeout", 10)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        problems.append(at(f"{path}.timeout", f"must be seconds above 0, got {show(timeout)}"))
        timeout = 10
    secret_env = _var(spec, "secret_env", path, problems)
    password_env = _var(spec, "password_env", path, problems)
    if password_env and not spec.get("starttls"):
        # smtplib would send the password in clear text
        problems.append(at(f"{path}.password_env", "needs starttls: true (no password in clear)"))
    if len(problems) > before:
        return None
    return Destination(
        name=name,
        type=kind,
        url=url,
        url_env=url_env,
        secret_env=secret_env,
        routing_key_env=routing,
        host=spec.get("host"),
        port=port,
        starttls=bool(spec.get("starttls", False)),
        username=spec.get("username"),
        password_env=password_env,
        sender=spec.get("from"),
        recipients=recipients,
        rate_per_minute=rate,
        timeout=float(timeout),
    )


def _route(spec: object, index: int, dests: Mapping[Any, Any], problems: list[str]) -> Route | None:
    if not isinstance(spec, Mapping):
        problems.append(at(f"routes[{index}]", f"must be a mapping, got {show(spec)}"))
        return None
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        problems.append(at(f"routes[{index}].name", "is required"))
        return None
    path = f"route {name!r}"
    before = len(problems)
    check_keys(spec, _ROUTE_KEYS, path, problems)
    match_raw = spec.get("match") or {}
    if not isinstance(match_raw, Mapping):
        problems.append(at(f"{path}.match", f"must be a mapping, got {show(match_raw)}"))
        match_raw = {}
    check_keys(match_raw, _MATCH_KEYS, f"{path}.match", problems)
    severity = match_raw.get("severity", "informational")
    if severity not in LEVELS:
        hint = did_you_mean(severity, LEVELS)
        problems.append(
            at(
                f"{path}.match.severity",
                f"must be one of {', '.join(LEVELS)}, got {severity!r}{hint}",
            )
        )
    crit = match_raw.get("host_criticality")
    if crit is not None and crit not in CRITICALITIES:
        problems.append(
            at(
                f"{path}.match.host_criticality",
                f"must be one of {', '.join(CRITICALITIES)}, got {crit!r}",
            )
        )
    names = _strings(spec.get("destinations"), f"{path}.destinations", problems)
    if not names:
        problems.append(at(f"{path}.destinations", "needs at least one destination"))
    for dest in names:
        if dest not in dests:
            hint = did_you_mean(dest, [str(d) for d in dests])
            problems.append(at(f"{path}.destinations", f"unknown destination {dest!r}{hint}"))
    group_by = _strings(spec.get("group_by", ["rule", "source_net"]), f"{path}.group_by", problems)
    problems.extend(
        at(f"{path}.group_by", f"must be among {', '.join(GROUP_FIELDS)}, got {g!r}")
        for g in group_by
        if g not in GROUP_FIELDS
    )
    repeat: timedelta | None = None
    if spec.get("repeat_interval") is not None:
        try:
            repeat = parse_duration(spec["repeat_interval"])
        except ConfigurationError as exc:
            problems.append(at(f"{path}.repeat_interval", str(exc)))
    if len(problems) > before:
        return None
    return Route(
        name=name,
        match=Match(
            severity=severity,
            rules=_strings(match_raw.get("rules"), f"{path}.match.rules", problems),
            tactics=tuple(
                t.lower() for t in _strings(match_raw.get("tactics"), f"{path}.match.tactics", [])
            ),
            techniques=tuple(
                t.upper()
                for t in _strings(match_raw.get("techniques"), f"{path}.match.techniques", [])
            ),
            host_criticality=crit,
        ),
        destinations=names,
        group_by=group_by,
        repeat_interval=repeat or None,
    )


# --------------------------------------------------------------------------------------
# Matching and grouping (over an incident row: the dict of incidents/tables.incident_row)
# --------------------------------------------------------------------------------------

_CRIT_REASON = re.compile(r"target criticality (\w+)")


def host_criticality(incident: Mapping[str, Any]) -> str | None:
    """The highest criticality of the incident's targets, as its score reasons record it
    (correlation/scoring.py: "target criticality high: +10")."""
    for reason in incident.get("score_reasons") or ():
        found = _CRIT_REASON.match(str(reason))
        if found and found[1] in CRITICALITIES:
            return found[1]
    return None


def matches(match: Match, incident: Mapping[str, Any]) -> bool:
    severity = incident.get("severity")
    if severity not in LEVELS or LEVELS.index(severity) < LEVELS.index(match.severity):
        return False
    if match.rules and incident.get("rule") not in match.rules:
        return False
    if match.tactics and not {str(t).lower() for t in incident.get("attack_tactics") or ()} & set(
        match.tactics
    ):
        return False
    techniques = {str(t).upper() for t in incident.get("attack_techniques") or ()}
    # T1190 also matches its sub-techniques (T1190.001)
    if match.techniques and not any(
        t == m or t.startswith(m + ".") for t in techniques for m in match.techniques
    ):
        return False
    if match.host_criticality is not None:
        crit = host_criticality(incident)
        if crit is None or CRITICALITIES.index(crit) < CRITICALITIES.index(match.host_criticality):
            return False
    return True


def source_net(ip: str) -> str:
    """The client's /24 (IPv4) or /64 (IPv6); the text itself when it is not an address."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    prefix = 24 if addr.version == 4 else 64
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def group_key(route: Route, incident: Mapping[str, Any]) -> str:
    parts = []
    for name in route.group_by:
        if name == "source_net":
            parts.append(f"source_net={source_net(str(incident.get('client_ip', '')))}")
        else:
            parts.append(f"{name}={incident.get(name, '')}")
    return ",".join(parts)


@dataclass(frozen=True)
class Target:
    route: str
    destination: str
    group_key: str
    repeat_interval: timedelta | None


def targets(routes: Sequence[Route], incident: Mapping[str, Any]) -> list[Target]:
    """Every (route, destination) an incident notifies; a destination reached by several
    routes is notified once (the first route's grouping and repeat interval)."""
    found: list[Target] = []
    seen: set[str] = set()
    for route in routes:
        if not matches(route.match, incident):
            continue
        for dest in route.destinations:
            if dest not in seen:
                seen.add(dest)
                found.append(
                    Target(route.name, dest, group_key(route, incident), route.repeat_interval)
                )
    return found
