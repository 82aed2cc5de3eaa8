"""Per-deployment detection configuration: rule overrides, allowlist, defaults.

Parsed from YAML text the caller has read::

    defaults: {hop: 1m, suppress_for: 30m}
    rules:
      waf-sqli-burst: {count: 8, timespan: 2m}
      waf-request-flood: {enabled: false}
    allowlist:
      - name: internal scanners
        networks: [10.0.0.0/8, 192.168.0.0/16]
        rules: [waf-scanner-fuzzing, waf-scanner-user-agent]
      - name: uptime monitor
        networks: [198.51.100.10/32]

Every problem in a file is collected and reported at once, each with its YAML path, in one
``ConfigFileError``. The host and YAML helpers here are shared with ``assets_map``.
"""

import difflib
import ipaddress
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from types import MappingProxyType
from typing import Any

import yaml

from soc_platform.correlation.scoring import LEVELS
from soc_platform.errors import ConfigurationError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_KIND = "detection config"
_MIN_HOP = timedelta(minutes=1)
_DEFAULT_HOP = timedelta(minutes=1)
_DEFAULT_SUPPRESS = timedelta(0)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+)\s*([smhdw])?")
_LABEL = re.compile(r"[\w-]+")
_TOP_KEYS = ("defaults", "rules", "allowlist")
_DEFAULT_KEYS = ("hop", "suppress_for")
_RULE_KEYS = ("enabled", "count", "timespan", "hop", "level", "suppress_for")
_ALLOW_KEYS = ("name", "networks", "hosts", "rules")


# --------------------------------------------------------------------------------------
# Shared helpers (also used by assets_map)
# --------------------------------------------------------------------------------------


class ConfigFileError(ConfigurationError):
    """A configuration file has one or more problems, each prefixed by its YAML path."""

    def __init__(self, kind: str, source: str, problems: Sequence[str]) -> None:
        self.kind = kind
        self.source = source
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            message = f"{kind} {source}: {self.problems[0]}"
        else:
            lines = "".join(f"\n  - {p}" for p in self.problems)
            message = f"{kind} {source}: {len(self.problems)} problems:{lines}"
        super().__init__(message)


class _UniqueKeyLoader(yaml.SafeLoader):
    """``SafeLoader`` that rejects duplicate mapping keys instead of keeping the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, kind: str, source: str) -> object:
    """Parse YAML safely, rejecting duplicate keys; errors become ``ConfigFileError``."""
    try:
        # a SafeLoader subclass: exactly as safe as yaml.safe_load
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigFileError(kind, source, [f"invalid YAML{where}: {exc.problem}"]) from exc
    except yaml.YAMLError as exc:
        raise ConfigFileError(kind, source, [f"invalid YAML: {exc}"]) from exc


def show(value: object) -> str:
    """A short rendering of a bad value for an error message."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value)


def did_you_mean(word: object, options: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` when ``word`` is close to one of ``options``, else ``""``."""
    close = difflib.get_close_matches(str(word).lower(), list(options), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def at(path: str, message: str) -> str:
    """Prefix a problem with its YAML path (none for the document root)."""
    return f"{path}: {message}" if path else message


def check_keys(
    mapping: Mapping[Any, Any], allowed: Sequence[str], path: str, problems: list[str]
) -> None:
    """Report every key of ``mapping`` not in ``allowed``."""
    for key in mapping:
        if key not in allowed:
            expected = ", ".join(allowed)
            hint = did_you_mean(key, allowed)
            problems.append(at(path, f"unknown key {key!r} (expected one of {expected}){hint}"))


def normalize_host(host: str) -> str:
    """Lower-case, no port, no trailing dot: ``Shop.Example.com:443`` -> ``shop.example.com``."""
    text = host.strip().lower()
    if text.startswith("["):  # [IPv6]:port
        end = text.find("]")
        if end != -1:
            text = text[1:end]
    elif text.count(":") == 1:  # name:port; bare IPv6 has several colons
        name, _, port = text.partition(":")
        if port.isdigit() or not port:
            text = name
    return text.rstrip(".")


def parse_host_pattern(raw: object) -> str:
    """Validate and normalise a host name or ``*.suffix`` wildcard.

    Raises:
        ConfigurationError: the pattern is not a host name, an IP address or ``*.suffix``.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigurationError(f"must be a host name or '*.domain' wildcard, got {show(raw)}")
    if "://" in raw or "/" in raw:
        raise ConfigurationError(f"must be a host name, not a URL or path, got {raw!r}")
    host = normalize_host(raw)
    name = host[2:] if host.startswith("*.") else host
    if "*" in name:
        raise ConfigurationError(
            f"a wildcard must be a leading '*.' followed by a domain (e.g. '*.example.com'), "
            f"got {raw!r}"
        )
    if _is_ip(name):
        return host
    if not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise ConfigurationError(f"is not a valid host name, got {raw!r}")
    return host


def host_matches(pattern: str, host: str) -> bool:
    """Whether a normalised host matches a normalised pattern.

    ``*.example.com`` matches subdomains at any depth but not ``example.com`` itself.
    """
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------


def parse_duration(text: str | int) -> timedelta:
    """Sigma-style duration: ``"30s"``, ``"5m"``, ``"2h"``, ``"1d"``, ``"1w"``; ints are seconds.

    Raises:
        ConfigurationError: the value is not a non-negative duration in that form.
    """
    return _parse_duration(text)


def _parse_duration(text: object) -> timedelta:
    expected = "must be a duration such as '30s', '5m', '2h' or '1d' (or whole seconds)"
    if isinstance(text, bool) or not isinstance(text, int | str):
        raise ConfigurationError(f"{expected}, got {show(text)}")
    if isinstance(text, int):
        if text < 0:
            raise ConfigurationError(f"must not be negative, got {text}")
        amount, unit = text, "s"
    else:
        match = _DURATION.fullmatch(text.strip())
        if match is None:
            raise ConfigurationError(f"{expected}, got {text!r}")
        amount, unit = int(match.group(1)), match.group(2) or "s"
    try:
        return timedelta(seconds=amount * _UNITS[unit])
    except OverflowError:
        raise ConfigurationError(f"is too long, got {text!r}") from None


@dataclass(frozen=True)
class RuleOverride:
    """Per-rule settings; ``None`` keeps the rule's own value (or the config default)."""

    enabled: bool | None = None
    count: int | None = None  # replaces the correlation condition's number
    timespan: timedelta | None = None
    hop: timedelta | None = None  # how often a sliding window starts
    level: str | None = None  # one of scoring.LEVELS
    suppress_for: timedelta | None = None


@dataclass(frozen=True)
class AllowEntry:
    """Events matching this entry do not raise incidents for the rules it names.

    ``hosts`` are exact names or ``*.example.com`` wildcards (case-insensitive, port and
    trailing dot ignored). With both ``networks`` and ``hosts``, an event must match both.

    Raises:
        ConfigurationError: the entry has neither networks nor hosts (it would allow all).
    """

    name: str
    networks: tuple[IPNetwork, ...] = ()
    hosts: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()  # empty: every rule

    def __post_init__(self) -> None:
        if not self.networks and not self.hosts:
            raise ConfigurationError(
                f"allowlist entry {self.name!r} needs networks or hosts "
                "(an entry with neither would allow everything)"
            )
        object.__setattr__(self, "networks", tuple(self.networks))
        object.__setattr__(self, "hosts", tuple(normalize_host(h) for h in self.hosts))
        object.__setattr__(self, "rules", tuple(self.rules))

    def matches(self, rule: str, client_ip: str | None, host: str | None) -> bool:
        """Whether an event of ``rule`` from ``client_ip`` to ``host`` is allowed.

        An unparseable or missing client IP (or host) never matches a network (or host).
        """
        if self.rules and rule not in self.rules:
            return False
        if self.networks and not self._ip_matches(client_ip):
            return False
        if self.hosts:
            if host is None:
                return False
            wanted = normalize_host(host)
            if not any(host_matches(p, wanted) for p in self.hosts):
                return False
        return True

    def _ip_matches(self, client_ip: str | None) -> bool:
        if client_ip is None:
            return False
        try:
            ip = ipaddress.ip_address(client_ip.strip())
        except ValueError:
            return False
        candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        return any(c in net for c in candidates for net in self.networks)


@dataclass(frozen=True)
class DetectionConfig:
    """Detection settings of one deployment.

    ``rules`` is stored read-only; it is left out of the hash (equality still compares it).
    """

    rules: Mapping[str, RuleOverride] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    allowlist: tuple[AllowEntry, ...] = ()
    hop: timedelta = _DEFAULT_HOP  # default for every rule
    suppress_for: timedelta = _DEFAULT_SUPPRESS  # default suppression period
    source: str = field(default="<string>", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", MappingProxyType(dict(self.rules)))
        object.__setattr__(self, "allowlist", tuple(self.allowlist))

    def override(self, rule: str) -> RuleOverride:
        """The rule's override with ``hop`` and ``suppress_for`` filled from the defaults.

        ``enabled``, ``count``, ``timespan`` and ``level`` stay ``None`` when not overridden.
        """
        own = self.rules.get(rule, RuleOverride())
        return replace(
            own,
            hop=self.hop if own.hop is None else own.hop,
            suppress_for=self.suppress_for if own.suppress_for is None else own.suppress_for,
        )

    def is_enabled(self, rule: str) -> bool:
        """False only when the config disables the rule."""
        return self.override(rule).enabled is not False

    def allowed(self, rule: str, client_ip: str | None, host: str | None) -> AllowEntry | None:
        """The first allowlist entry matching the event, or ``None``."""
        return next((e for e in self.allowlist if e.matches(rule, client_ip, host)), None)

    def check_rule_names(self, known: Iterable[str]) -> None:
        """Reject rule names (in ``rules`` and allowlist ``rules``) that are not in ``known``.

        Raises:
            ConfigFileError: listing every unknown name with its path and a suggestion.
        """
        names = set(known)
        problems = [
            f"rules.{name}: unknown rule {name!r}{did_you_mean(name, names)}"
            for name in self.rules
            if name not in names
        ]
        for i, entry in enumerate(self.allowlist):
            problems.extend(
                f"allowlist[{i}].rules[{j}]: unknown rule {name!r}{did_you_mean(name, names)}"
                for j, name in enumerate(entry.rules)
                if name not in names
            )
        if problems:
            raise ConfigFileError(_KIND, self.source, problems)


# --------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------


def parse_detection_config(text: str, source: str = "<string>") -> DetectionConfig:
    """Parse detection configuration YAML; empty text or ``null`` gives the defaults.

    Raises:
        ConfigFileError: listing every problem with its YAML path.
    """
    doc = load_yaml(text, _KIND, source)
    if doc is None:
        return DetectionConfig(source=source)
    if not isinstance(doc, dict):
        expected = ", ".join(_TOP_KEYS)
        raise ConfigFileError(
            _KIND, source, [f"must be a mapping with keys {expected}, got {show(doc)}"]
        )
    problems: list[str] = []
    check_keys(doc, _TOP_KEYS, "", problems)

    defaults = _mapping(doc.get("defaults"), "defaults", problems)
    check_keys(defaults, _DEFAULT_KEYS, "defaults", problems)
    hop = _hop(defaults.get("hop"), "defaults.hop", problems)
    suppress = _duration(defaults.get("suppress_for"), "defaults.suppress_for", problems)

    rules: dict[str, RuleOverride] = {}
    for name, raw in _mapping(doc.get("rules"), "rules", problems).items():
        if not isinstance(name, str) or not name.strip():
            problems.append(f"rules: rule name must be a non-empty string, got {show(name)}")
            continue
        rules[name] = _rule_override(raw, f"rules.{name}", problems)

    allowlist = _allowlist(doc.get("allowlist"), problems)
    if problems:
        raise ConfigFileError(_KIND, source, problems)
    return DetectionConfig(
        rules=rules,
        allowlist=allowlist,
        hop=_DEFAULT_HOP if hop is None else hop,
        suppress_for=_DEFAULT_SUPPRESS if suppress is None else suppress,
        source=source,
    )


def _mapping(raw: object, path: str, problems: list[str]) -> dict[Any, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(at(path, f"must be a mapping, got {show(raw)}"))
        return {}
    return raw


def _list(raw: object, path: str, problems: list[str]) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(at(path, f"must be a list, got {show(raw)}"))
        return []
    return raw


def _duration(raw: object, path: str, problems: list[str]) -> timedelta | None:
    if raw is None:
        return None
    try:
        return _parse_duration(raw)
    except ConfigurationError as exc:
        problems.append(at(path, str(exc)))
        return None


def _hop(raw: object, path: str, problems: list[str]) -> timedelta | None:
    hop = _duration(raw, path, problems)
    if hop is None:
        return None
    if hop < _MIN_HOP:
        problems.append(at(path, f"must be at least 1m, got {raw!r}"))
        return None
    if hop % timedelta(seconds=1):
        problems.append(at(path, f"must be a whole number of seconds, got {raw!r}"))
        return None
    return hop


def _rule_override(raw: object, path: str, problems: list[str]) -> RuleOverride:
    values = _mapping(raw, path, problems)
    check_keys(values, _RULE_KEYS, path, problems)
    enabled = values.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        problems.append(at(f"{path}.enabled", f"must be true or false, got {show(enabled)}"))
        enabled = None
    count = values.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        problems.append(at(f"{path}.count", f"must be a positive integer, got {show(count)}"))
        count = None
    timespan = _duration(values.get("timespan"), f"{path}.timespan", problems)
    if timespan is not None and not timespan:
        problems.append(at(f"{path}.timespan", f"must be positive, got {values['timespan']!r}"))
        timespan = None
    return RuleOverride(
        enabled=enabled,
        count=count,
        timespan=timespan,
        hop=_hop(values.get("hop"), f"{path}.hop", problems),
        level=_level(values.get("level"), f"{path}.level", problems),
        suppress_for=_duration(values.get("suppress_for"), f"{path}.suppress_for", problems),
    )


def _level(raw: object, path: str, problems: list[str]) -> str | None:
    if raw is None:
        return None
    level = raw.strip().lower() if isinstance(raw, str) else None
    if level not in LEVELS:
        hint = did_you_mean(raw, LEVELS) if isinstance(raw, str) else ""
        problems.append(at(path, f"must be one of {', '.join(LEVELS)}, got {show(raw)}{hint}"))
        return None
    return level


def _allowlist(raw: object, problems: list[str]) -> tuple[AllowEntry, ...]:
    entries: list[AllowEntry] = []
    names: dict[str, int] = {}
    for i, item in enumerate(_list(raw, "allowlist", problems)):
        path = f"allowlist[{i}]"
        if not isinstance(item, dict):
            expected = ", ".join(_ALLOW_KEYS)
            problems.append(at(path, f"must be a mapping with keys {expected}, got {show(item)}"))
            continue
        before = len(problems)
        check_keys(item, _ALLOW_KEYS, path, problems)
        name = item.get("name")
        if name is None:
            problems.append(at(path, "missing required key 'name'"))
        elif not isinstance(name, str) or not name.strip():
            problems.append(at(f"{path}.name", f"must be a non-empty string, got {show(name)}"))
        elif name in names:
            first = f"allowlist[{names[name]}]"
            problems.append(at(f"{path}.name", f"duplicate name {name!r} (also {first}.name)"))
        else:
            names[name] = i
        networks = tuple(
            net
            for j, value in enumerate(_list(item.get("networks"), f"{path}.networks", problems))
            if (net := _network(value, f"{path}.networks[{j}]", problems)) is not None
        )
        hosts = tuple(
            host
            for j, value in enumerate(_list(item.get("hosts"), f"{path}.hosts", problems))
            if (host := _host(value, f"{path}.hosts[{j}]", problems)) is not None
        )
        rules = tuple(
            value.strip()
            for j, value in enumerate(_list(item.get("rules"), f"{path}.rules", problems))
            if _rule_name(value, f"{path}.rules[{j}]", problems)
        )
        if len(problems) > before:
            continue
        if not networks and not hosts:
            problems.append(
                at(path, "needs networks or hosts (an entry with neither would allow everything)")
            )
            continue
        entries.append(AllowEntry(name=str(name), networks=networks, hosts=hosts, rules=rules))
    return tuple(entries)


def _network(raw: object, path: str, problems: list[str]) -> IPNetwork | None:
    if not isinstance(raw, str):
        problems.append(at(path, f"must be a CIDR network such as '10.0.0.0/8', got {show(raw)}"))
        return None
    try:
        return ipaddress.ip_network(raw.strip())
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(raw.strip(), strict=False)
    except ValueError:
        expected = "must be an IPv4 or IPv6 network in CIDR form such as '10.0.0.0/8'"
        problems.append(at(path, f"{expected}, got {raw!r}"))
        return None
    problems.append(at(path, f"{raw!r} has host bits set; did you mean '{loose}'?"))
    return None


def _host(raw: object, path: str, problems: list[str]) -> str | None:
    try:
        return parse_host_pattern(raw)
    except ConfigurationError as exc:
        problems.append(at(path, str(exc)))
        return None


def _rule_name(raw: object, path: str, problems: list[str]) -> bool:
    if isinstance(raw, str) and raw.strip():
        return True
    problems.append(at(path, f"must be a rule name, got {show(raw)}"))
    return False
