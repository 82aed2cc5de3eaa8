"""Which addresses get looked up, and how each database layout names ASN and country (pure).

Layouts read (one database may hold both parts, e.g. IPinfo Lite):

=============================  ==================================  ===========================
database                       AS number / organisation            country
=============================  ==================================  ===========================
GeoLite2-ASN, DB-IP ASN        ``autonomous_system_number`` (int),  -
                               ``autonomous_system_organization``
GeoLite2-Country/City, DB-IP   -                                   ``country.iso_code`` (else
                                                                   ``registered_country``)
IPinfo Lite                    ``asn`` ("AS15169"), ``as_name``    ``country_code``
flat files (ip-location-db)    ``autonomous_system_number``...     ``country_code``
=============================  ==================================  ===========================
"""

import ipaddress
from bisect import bisect_right
from typing import Any, NamedTuple

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class IpInfo(NamedTuple):
    """What the databases say about one address (None: nothing)."""

    as_number: int | None = None
    as_org: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2, upper case


NOTHING = IpInfo()


#: IPv4 special-purpose ranges (IANA registry, RFC 6890): no public database knows them.
_V4_SPECIAL = sorted(
    (int(n.network_address), int(n.broadcast_address))
    for n in map(
        ipaddress.IPv4Network,
        (
            "0.0.0.0/8",  # this network
            "10.0.0.0/8",  # private
            "100.64.0.0/10",  # shared address space (CGNAT)
            "127.0.0.0/8",  # loopback
            "169.254.0.0/16",  # link local
            "172.16.0.0/12",  # private
            "192.0.0.0/24",  # IETF protocol assignments
            "192.0.2.0/24",  # documentation (TEST-NET-1)
            "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
            "192.168.0.0/16",  # private
            "198.18.0.0/15",  # benchmarking
            "198.51.100.0/24",  # documentation (TEST-NET-2)
            "203.0.113.0/24",  # documentation (TEST-NET-3)
            "224.0.0.0/4",  # multicast
            "240.0.0.0/4",  # reserved, and the limited broadcast address
        ),
    )
)
_V4_STARTS = [lo for lo, _ in _V4_SPECIAL]


def lookup_key(text: str) -> tuple[str, bool] | None:
    """The text to look ``text`` up as and whether it is a public address; None when it is
    not an IP address.

    The same answer as :func:`lookup_address` (a test checks), with a fast path for the
    common dotted IPv4 text: ``ipaddress`` costs several times the lookup itself.
    """
    v4 = text[7:] if text[:7].lower() == "::ffff:" and "." in text else text
    parts = v4.split(".")
    if len(parts) == 4:
        try:
            a, b, c, d = map(int, parts)
        except ValueError:
            a = b = c = d = -1
        # the canonical text only (no sign, space or leading zero); the rest goes the slow way
        if min(a, b, c, d) >= 0 and max(a, b, c, d) <= 255 and f"{a}.{b}.{c}.{d}" == v4:
            value = a << 24 | b << 16 | c << 8 | d
            i = bisect_right(_V4_STARTS, value) - 1
            return v4, not (i >= 0 and value <= _V4_SPECIAL[i][1])
    address = lookup_address(text, global_only=False)
    if address is None:
        return None
    return str(address), _is_public(address)


def _is_public(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv4Address):
        value = int(address)
        i = bisect_right(_V4_STARTS, value) - 1
        return not (i >= 0 and value <= _V4_SPECIAL[i][1])
    return address.is_global and not address.is_multicast


def lookup_address(text: str, *, global_only: bool) -> IpAddress | None:
    """The address to look ``text`` up as, or None when it gets no lookup.

    IPv4-mapped IPv6 addresses (``::ffff:8.8.8.8``) are looked up as IPv4: some databases
    (flat files, mmdb-writer output) do not alias them. With ``global_only``, addresses
    outside the public internet (private, documentation, loopback, shared, reserved...)
    get nothing: public databases have nothing true to say about them, and some place
    documentation ranges in a country.
    """
    try:
        address: IpAddress = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if global_only and not _is_public(address):
        return None
    return address


def as_of(record: Any) -> tuple[int | None, str | None]:
    """AS number and organisation of an ASN record, whatever its layout."""
    if not isinstance(record, dict):
        return None, None
    number = _as_number(record.get("autonomous_system_number", record.get("asn")))
    org = record.get("autonomous_system_organization", record.get("as_name"))
    return number, org if isinstance(org, str) and org else None


def country_of(record: Any) -> str | None:
    """ISO country code of a country record, whatever its layout."""
    if not isinstance(record, dict):
        return None
    # flat files and IPinfo Lite (whose ``country`` is the name)
    if (code := _iso(record.get("country_code"))) is not None:
        return code
    for key in ("country", "registered_country"):
        nested = record.get(key)
        if isinstance(nested, dict) and (code := _iso(nested.get("iso_code"))):
            return code
    return None


def _as_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str):
        digits = value.strip().upper().removeprefix("AS")
        return int(digits) if digits.isdigit() and int(digits) > 0 else None
    return None


def _iso(value: object) -> str | None:
    if isinstance(value, str) and len(value) == 2 and value.isascii() and value.isalpha():
        return value.upper()
    return None
