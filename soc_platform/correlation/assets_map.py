"""Asset criticality: how much each protected host matters, for scoring incidents.

Parsed from YAML text the caller has read::

    # host name or wildcard -> low | medium | high | critical
    shop.example.com: critical
    "*.internal.example.com": low
    default: medium        # optional; used when nothing matches (else None)

The same map may sit under an ``assets`` key (``{assets: {host: level}, default: level}``).
Lookups are case-insensitive and ignore a port and a trailing dot. An exact name beats any
wildcard; among wildcards the longest suffix wins. ``*.example.com`` matches subdomains at
any depth, not ``example.com`` itself.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from soc_platform.correlation.config import (
    ConfigFileError,
    at,
    check_keys,
    did_you_mean,
    load_yaml,
    normalize_host,
    parse_host_pattern,
    show,
)
from soc_platform.correlation.scoring import CRITICALITIES
from soc_platform.errors import ConfigurationError

_KIND = "asset criticality"
_DEFAULT = "default"
_WRAPPED_KEYS = ("assets", _DEFAULT)
_RANK = {level: rank for rank, level in enumerate(CRITICALITIES)}


@dataclass(frozen=True)
class AssetCriticality:
    """Host name or ``*.suffix`` wildcard -> criticality, plus an optional default.

    ``hosts`` is normalised and stored read-only; it is left out of the hash (equality
    still compares it).

    Raises:
        ConfigurationError: a pattern is not a host name or wildcard, or a level is not
            one of ``scoring.CRITICALITIES``.
    """

    hosts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    default: str | None = None
    _exact: Mapping[str, str] = field(init=False, repr=False, compare=False, hash=False)
    _suffixes: Mapping[str, str] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        hosts = {parse_host_pattern(p): _check_level(level) for p, level in self.hosts.items()}
        if self.default is not None:
            _check_level(self.default)
        object.__setattr__(self, "hosts", MappingProxyType(hosts))
        exact = {p: level for p, level in hosts.items() if not p.startswith("*.")}
        # "*.a.example.com" is stored as "a.example.com": matched against a host's parents
        suffixes = {p[2:]: level for p, level in hosts.items() if p.startswith("*.")}
        object.__setattr__(self, "_exact", MappingProxyType(exact))
        object.__setattr__(self, "_suffixes", MappingProxyType(suffixes))

    def lookup(self, host: str | None) -> str | None:
        """Criticality of one host: exact match, else longest wildcard, else the default."""
        if host is None:
            return self.default
        name = normalize_host(host)
        if not name:
            return self.default
        if name in self._exact:
            return self._exact[name]
        # parents longest first: for a.b.example.com try b.example.com, example.com, com
        parent = name
        while "." in parent:
            parent = parent.split(".", 1)[1]
            if parent in self._suffixes:
                return self._suffixes[parent]
        return self.default

    def highest(self, hosts: Iterable[str | None]) -> str | None:
        """The highest criticality among ``hosts``; ``None`` when none has one."""
        levels = [level for h in hosts if (level := self.lookup(h)) is not None]
        return max(levels, key=_RANK.__getitem__, default=None)


def parse_asset_criticality(text: str, source: str = "<string>") -> AssetCriticality:
    """Parse an asset criticality map; empty text or ``null`` gives an empty map.

    Raises:
        ConfigFileError: listing every problem with its YAML path (the host name).
    """
    doc = load_yaml(text, _KIND, source)
    if doc is None:
        return AssetCriticality()
    if not isinstance(doc, dict):
        raise ConfigFileError(
            _KIND, source, [f"must be a mapping of host name to criticality, got {show(doc)}"]
        )
    problems: list[str] = []
    prefix = ""
    entries: dict[Any, Any] = doc
    default_path = _DEFAULT
    if "assets" in doc and not isinstance(doc["assets"], str):
        check_keys(doc, _WRAPPED_KEYS, "", problems)
        raw_entries = doc["assets"] if doc["assets"] is not None else {}
        entries = raw_entries if isinstance(raw_entries, dict) else {}
        if not isinstance(raw_entries, dict):
            problems.append(
                f"assets: must be a mapping of host name to level, got {show(raw_entries)}"
            )
        prefix = "assets."
        if _DEFAULT in entries:
            if _DEFAULT in doc:
                problems.append("assets.default: default is also given at the top level")
            default_path = f"{prefix}{_DEFAULT}"
    raw_default = entries.get(_DEFAULT, doc.get(_DEFAULT))
    default = None if raw_default is None else _level(raw_default, default_path, problems)
    hosts: dict[str, str] = {}
    seen: dict[str, object] = {}
    for raw, raw_level in entries.items():
        if raw == _DEFAULT:
            continue
        path = f"{prefix}{raw}"
        try:
            pattern = parse_host_pattern(raw)
        except ConfigurationError as exc:
            problems.append(at(path, str(exc)))
            continue
        if pattern in seen:
            problems.append(
                at(path, f"same host as {seen[pattern]!r} (names are case-insensitive)")
            )
            continue
        seen[pattern] = raw
        level = _level(raw_level, path, problems)
        if level is not None:
            hosts[pattern] = level
    if problems:
        raise ConfigFileError(_KIND, source, problems)
    return AssetCriticality(hosts=hosts, default=default)


def _check_level(level: str) -> str:
    if level not in _RANK:
        raise ConfigurationError(
            f"criticality must be one of {', '.join(CRITICALITIES)}, got {level!r}"
        )
    return level


def _level(raw: object, path: str, problems: list[str]) -> str | None:
    level = raw.strip().lower() if isinstance(raw, str) else None
    if level not in _RANK:
        hint = did_you_mean(raw, CRITICALITIES) if isinstance(raw, str) else ""
        expected = ", ".join(CRITICALITIES)
        problems.append(at(path, f"must be one of {expected}, got {show(raw)}{hint}"))
        return None
    return level
