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
from typing import Any, NamedTuple

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class IpInfo(NamedTuple):
    """What the databases say about one address (None: nothing)."""

    as_number: int | None = None
    as_org: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2, upper case


NOTHING = IpInfo()


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
    if global_only and not address.is_global:
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
    for key in ("country", "registered_country"):
        nested = record.get(key)
        if isinstance(nested, dict) and (code := _iso(nested.get("iso_code"))):
            return code
    # IPinfo Lite's ``country`` is the name; its code is ``country_code``, as in flat files
    return _iso(record.get("country_code"))


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
