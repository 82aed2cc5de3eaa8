"""Silence matchers (pure): a silence holds every notification whose incident and
destination match all of its matchers until it expires."""

import ipaddress
from collections.abc import Mapping
from typing import Any

from soc_platform.errors import ConfigurationError

#: matcher name -> what it compares
MATCHERS = {
    "rule": "the incident's rule",
    "severity": "the incident's severity",
    "client_ip": "the client address, or a network (10.0.0.0/8)",
    "incident": "the incident id",
    "destination": "the destination name",
    "route": "the route name",
    "tactic": "one of the incident's ATT&CK tactics",
    "technique": "one of the incident's ATT&CK techniques (T1190 includes T1190.001)",
}


def parse_matchers(items: list[str]) -> dict[str, str]:
    """``["rule=waf-sqli-burst", "client_ip=10.0.0.0/8"]`` -> a matcher mapping.

    Raises:
        ConfigurationError: a malformed item, an unknown matcher or a bad network.
    """
    found: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not value:
            raise ConfigurationError(f"silence matcher {item!r} must be NAME=VALUE")
        if name not in MATCHERS:
            raise ConfigurationError(
                f"silence matcher {name!r} is not one of: {', '.join(MATCHERS)}"
            )
        if name == "client_ip":
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ConfigurationError(
                    f"silence matcher client_ip={value!r} is not an address or network"
                ) from None
        found[name] = value
    if not found:
        raise ConfigurationError("a silence needs at least one matcher (NAME=VALUE)")
    return found


def silence_matches(
    matchers: Mapping[str, str], incident: Mapping[str, Any], route: str, destination: str
) -> bool:
    for name, value in matchers.items():
        if not _holds(name, value, incident, route, destination):
            return False
    return bool(matchers)


def _holds(name: str, value: str, incident: Mapping[str, Any], route: str, dest: str) -> bool:
    if name == "rule":
        return bool(incident.get("rule") == value)
    if name == "severity":
        return bool(incident.get("severity") == value)
    if name == "incident":
        return bool(incident.get("id") == value)
    if name == "destination":
        return dest == value
    if name == "route":
        return route == value
    if name == "tactic":
        return value.lower() in {str(t).lower() for t in incident.get("attack_tactics") or ()}
    if name == "technique":
        want = value.upper()
        return any(
            str(t).upper() == want or str(t).upper().startswith(want + ".")
            for t in incident.get("attack_techniques") or ()
        )
    if name == "client_ip":
        try:
            return ipaddress.ip_address(str(incident.get("client_ip"))) in ipaddress.ip_network(
                value, strict=False
            )
        except ValueError:
            return False
    return False
