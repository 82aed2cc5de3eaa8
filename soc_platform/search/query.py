"""The incident search syntax: ``key:value`` filters plus free text (pure, no I/O).

    status:open severity:>=high ip:192.168.0.0/16 rule:waf-sqli-burst technique:T1190
    tactic:initial-access host:shop.example.com country:RU asn:12345 since:24h sqlmap

One parser for every place that searches: the embedded backend turns a ``Query`` into SQL
parameters (``Query.sql_params``), Meilisearch into a filter expression
(``Query.meili_filter``), and the UI, ``soc-platform search`` and ``incidents`` flags build
the same text. A value may list alternatives with commas (``status:open,acknowledged``);
the filters of different keys all apply (AND). Unknown keys and bad values raise
``QuerySyntaxError`` with one line that says what is accepted.
"""

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from soc_platform.correlation.scoring import LEVELS  # severity levels, lowest first
from soc_platform.errors import SocPlatformError

#: Lifecycle statuses (soc_platform.incidents.lifecycle.STATUSES) and the ``closed`` alias.
STATUSES = ("open", "acknowledged", "in_progress", "resolved", "false_positive", "suppressed")
STATUS_ALIASES = {"closed": ("resolved", "false_positive"), "ack": ("acknowledged",)}
LEVEL_ALIASES = {"info": "informational", "med": "medium", "crit": "critical"}
KEYS = (
    "status",
    "severity",
    "ip",
    "rule",
    "technique",
    "tactic",
    "host",
    "country",
    "asn",
    "since",
)
_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_TOKEN = re.compile(r'"[^"]*"|\S+')
_TERM = re.compile(r"[^\s\"'`,;()]+")
_KEYED = re.compile(r"^([A-Za-z_]+):(.*)$")
_TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$", re.IGNORECASE)


class QuerySyntaxError(SocPlatformError):
    """A search query the syntax does not accept (one line; CLI exit status 2)."""


@dataclass(frozen=True)
class Query:
    """A parsed search: free-text terms and the filters (empty tuple = no filter)."""

    text: str = ""
    terms: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()  # CIDR texts, e.g. 192.168.0.0/16 or 10.0.0.7/32
    rules: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    tactics: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    asns: tuple[int, ...] = ()
    since: timedelta | None = None
    filters: dict[str, str] = field(default_factory=dict)  # key -> value as typed

    @property
    def addresses(self) -> tuple[str, ...]:
        """The ``ip:`` values as addresses when every one is a single address, else ()."""
        nets = [ipaddress.ip_network(n) for n in self.networks]
        if not nets or any(n.num_addresses != 1 for n in nets):
            return ()
        return tuple(str(n.network_address) for n in nets)

    @property
    def has_filters(self) -> bool:
        return bool(self.filters)

    def sql_params(self, now: datetime) -> dict[str, Any]:
        """Parameters of ``search_incidents.sql`` (None = that filter is off)."""

        def opt(values: tuple[Any, ...]) -> list[Any] | None:
            return list(values) if values else None

        return {
            "terms": list(self.terms),
            "statuses": opt(self.statuses),
            "severities": opt(self.severities),
            "networks": opt(self.networks),
            # only single addresses: the same filter, answered by the indexes on client_ip
            # and sources (an address matching one incident must not read the table)
            "addresses": opt(self.addresses) if self.networks else None,
            "rules": opt(self.rules),
            "techniques": opt(self.techniques),
            "tactics": opt(self.tactics),
            "hosts": opt(self.hosts),
            "countries": opt(self.countries),
            "asns": opt(self.asns),
            "since": now - self.since if self.since is not None else None,
        }

    def meili_filter(self, now: datetime) -> str | None:
        """The Meilisearch filter expression of the filters (None when there are none).
        IP networks match the document's ``source_prefixes`` (/8, /16, /24 and /32 of each
        IPv4 source, /128 of IPv6): an IPv4 network of another length is widened to the /8,
        /16 or /24 that holds it (the embedded backend matches it exactly)."""
        parts: list[str] = []

        def any_of(attr: str, values: tuple[Any, ...]) -> None:
            if values:
                parts.append(f"{attr} IN [{', '.join(_meili_value(v) for v in values)}]")

        any_of("status", self.statuses)
        any_of("severity", self.severities)
        any_of("source_prefixes", tuple(dict.fromkeys(_meili_network(n) for n in self.networks)))
        any_of("rule", self.rules)
        any_of("attack_techniques", self.techniques)
        any_of("attack_tactics", self.tactics)
        any_of("hosts", self.hosts)
        any_of("countries", self.countries)
        any_of("asns", self.asns)
        if self.since is not None:
            parts.append(f"end_time >= {int((now - self.since).timestamp())}")
        return " AND ".join(parts) if parts else None


def _meili_network(cidr: str) -> str:
    net = ipaddress.ip_network(cidr)
    if net.version == 4 and net.prefixlen % 8:
        return str(net.supernet(new_prefix=8 * (net.prefixlen // 8)))
    return str(net)


def source_prefixes(ip: str) -> list[str]:
    """The networks a source IP is found under with Meilisearch (see ``meili_filter``)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return []
    if addr.version == 6:
        return [f"{addr}/128"]
    return [str(ipaddress.ip_network(f"{addr}/{n}", strict=False)) for n in (8, 16, 24, 32)]


def _meili_value(value: object) -> str:
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def free_terms(text: str) -> list[str]:
    """Split free text into lower-case terms (quotes and separators dropped)."""
    return [t.lower().strip(".:") for t in _TERM.findall(text) if t.strip(".:")]


def _fail(message: str) -> QuerySyntaxError:
    return QuerySyntaxError(f"search query: {message}")


def _values(key: str, raw: str) -> list[str]:
    values = [v.strip().strip('"') for v in raw.split(",") if v.strip().strip('"')]
    if not values:
        raise _fail(f"{key}: needs a value (e.g. {key}:{_EXAMPLES[key]})")
    return values


_EXAMPLES = {
    "status": "open",
    "severity": ">=high",
    "ip": "192.168.0.0/16",
    "rule": "waf-sqli-burst",
    "technique": "T1190",
    "tactic": "initial-access",
    "host": "shop.example.com",
    "country": "RU",
    "asn": "12345",
    "since": "24h",
}


def _status(value: str) -> list[str]:
    v = value.lower()
    if v in STATUS_ALIASES:
        return list(STATUS_ALIASES[v])
    if v in STATUSES:
        return [v]
    raise _fail(f"status {value!r} unknown; use one of {', '.join(STATUSES)} or closed")


def _level(value: str) -> str:
    v = value.lower()
    v = LEVEL_ALIASES.get(v, v)
    if v not in LEVELS:
        raise _fail(f"severity {value!r} unknown; use one of {', '.join(LEVELS)}")
    return v


def _severities(value: str) -> list[str]:
    for op in (">=", "<=", ">", "<", "="):
        if value.startswith(op):
            rank = LEVELS.index(_level(value[len(op) :]))
            pick = {
                ">=": LEVELS[rank:],
                "<=": LEVELS[: rank + 1],
                ">": LEVELS[rank + 1 :],
                "<": LEVELS[:rank],
                "=": LEVELS[rank : rank + 1],
            }[op]
            if not pick:  # severity:>critical: no level is above it
                raise _fail(f"severity {value!r} matches no level; use one of {', '.join(LEVELS)}")
            return list(pick)
    return [_level(value)]


def _network(value: str) -> str:
    """CIDR text of an ``ip:`` value: an address, a network, or a dotted prefix (192.168)."""
    text = value.strip()
    if "/" not in text and text.count(".") < 3 and ":" not in text:
        octets = [o for o in text.split(".") if o != ""]
        if 1 <= len(octets) <= 3 and all(o.isdigit() for o in octets):
            text = ".".join(octets + ["0"] * (4 - len(octets))) + f"/{8 * len(octets)}"
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise _fail(
            f"ip {value!r} is not an address, network or prefix "
            "(e.g. ip:10.0.0.7, ip:192.168.0.0/16, ip:192.168)"
        ) from None
    return str(net)


#: The longest ``since:`` (a century: past it the time bound is not a date any more).
MAX_SINCE = timedelta(days=36_500)
#: AS numbers are 32-bit.
MAX_ASN = 2**32 - 1


def _duration(value: str) -> timedelta:
    m = _DURATION.match(value.strip().lower())
    if not m or int(m.group(1)) == 0:
        raise _fail(f"since {value!r} is not a duration; use e.g. since:30m, 24h, 7d or 2w")
    try:
        span = timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    except OverflowError:
        span = timedelta.max
    if span > MAX_SINCE:
        raise _fail(f"since {value!r} is longer than {MAX_SINCE.days} days")
    return span


def _asn(value: str) -> int:
    v = value.upper().removeprefix("AS")
    if not v.isdigit() or int(v) > MAX_ASN:
        raise _fail(f"asn {value!r} is not an AS number (e.g. asn:12345 or asn:AS12345)")
    return int(v)


def _technique(value: str) -> str:
    if not _TECHNIQUE.match(value):
        raise _fail(f"technique {value!r} is not an ATT&CK id (e.g. technique:T1190)")
    return value.upper()


def parse_query(text: str) -> Query:
    """Parse ``text``: ``key:value`` tokens are filters, everything else free text.

    A token that only looks like a filter because of a colon in free text (an IPv6 address,
    a URL such as ``http://x``) is free text: keys are a word followed by ``:`` and a value.
    """
    free: list[str] = []
    found: dict[str, list[Any]] = {}
    typed: dict[str, str] = {}
    since: timedelta | None = None
    for token in _TOKEN.findall(text or ""):
        m = _KEYED.match(token)
        if not m or m.group(2).startswith("//"):
            free.append(token)
            continue
        key, raw = m.group(1).lower(), m.group(2)
        if key not in KEYS:
            raise _fail(
                f"unknown filter {key!r}; use {', '.join(k + ':' for k in KEYS)} or free text"
            )
        typed[key] = f"{typed[key]},{raw}" if key in typed else raw
        values = _values(key, raw)
        out = found.setdefault(key, [])
        for value in values:
            if key == "status":
                out.extend(_status(value))
            elif key == "severity":
                out.extend(_severities(value))
            elif key == "ip":
                out.append(_network(value))
            elif key == "technique":
                out.append(_technique(value))
            elif key == "asn":
                out.append(_asn(value))
            elif key == "since":
                since = _duration(value)
            elif key == "country":
                out.append(value.upper())
            else:  # rule, tactic, host: exact values as typed (tactics lower-case)
                out.append(value.lower() if key in ("tactic", "host") else value)

    def get(key: str) -> tuple[Any, ...]:
        return tuple(dict.fromkeys(found.get(key, [])))

    free_text = " ".join(free)
    return Query(
        text=free_text,
        terms=tuple(free_terms(free_text)),
        statuses=get("status"),
        severities=tuple(lv for lv in LEVELS if lv in found.get("severity", [])),
        networks=get("ip"),
        rules=get("rule"),
        techniques=get("technique"),
        tactics=get("tactic"),
        hosts=get("host"),
        countries=get("country"),
        asns=get("asn"),
        since=since,
        filters=typed,
    )
