import ipaddress
import random

import pytest

from soc_platform.enrich.records import as_of, country_of, lookup_address, lookup_key


@pytest.mark.parametrize(
    ("text", "global_only", "expected"),
    [
        ("8.8.8.8", True, "8.8.8.8"),
        ("::ffff:8.8.8.8", True, "8.8.8.8"),  # IPv4-mapped: looked up as IPv4
        ("::ffff:198.51.100.7", False, "198.51.100.7"),
        ("2606:4700::1111", True, "2606:4700::1111"),
        ("10.1.2.3", True, None),  # private
        ("192.168.4.5", True, None),
        ("203.0.113.5", True, None),  # documentation (a public db places it in AU)
        ("2001:db8::1", True, None),
        ("127.0.0.1", True, None),
        ("100.64.0.1", True, None),  # shared address space (CGNAT)
        ("203.0.113.5", False, "203.0.113.5"),  # an operator's db may map any range
        ("X.X.X.X", True, None),  # AWS anonymised
        ("", False, None),
    ],
)
def test_lookup_address(text: str, global_only: bool, expected: str | None) -> None:
    address = lookup_address(text, global_only=global_only)
    assert (str(address) if address is not None else None) == expected


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (
            {"autonomous_system_number": 15169, "autonomous_system_organization": "Google LLC"},
            (15169, "Google LLC"),
        ),
        ({"asn": "AS15169", "as_name": "Google LLC", "country_code": "US"}, (15169, "Google LLC")),
        ({"asn": "as64500", "as_name": ""}, (64500, None)),
        ({"asn": "AS", "as_name": "x"}, (None, "x")),
        ({"autonomous_system_number": 0}, (None, None)),
        ({"country_code": "US"}, (None, None)),
        (None, (None, None)),
        ("junk", (None, None)),
    ],
)
def test_as_of_every_layout(record: object, expected: tuple[int | None, str | None]) -> None:
    assert as_of(record) == expected


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"country": {"iso_code": "DE", "names": {"en": "Germany"}}}, "DE"),  # GeoLite2, DB-IP
        ({"registered_country": {"iso_code": "fr"}}, "FR"),  # no located country
        ({"country_code": "us"}, "US"),  # flat files
        ({"country": "United States", "country_code": "US"}, "US"),  # IPinfo Lite
        ({"country_code": "ZZZ"}, None),
        ({"country_code": 12}, None),
        ({}, None),
        (None, None),
    ],
)
def test_country_of_every_layout(record: object, expected: str | None) -> None:
    assert country_of(record) == expected


def _random_addresses(n: int) -> list[str]:
    rng = random.Random(11)
    out = []
    for net in SPECIAL_SAMPLES:
        network = ipaddress.ip_network(net)
        out += [str(network.network_address), str(network.broadcast_address)]
        out += [str(network.network_address - 1), str(network.broadcast_address + 1)]
    out += [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(n)]
    out += [f"::ffff:{ipaddress.IPv4Address(rng.getrandbits(32))}" for _ in range(n // 10)]
    out += [str(ipaddress.IPv6Address(rng.getrandbits(128))) for _ in range(n // 10)]
    out += ["2001:4860:4860::8888", "fe80::1", "ff02::1", "::1", "::", "2001:db8::5"]
    out += ["1.2.3", "1.2.3.4.5", "01.2.3.4", "256.1.1.1", "1.2.3.-4", " 1.2.3.4", "1.2.3.4 "]
    return out


SPECIAL_SAMPLES = ["10.0.0.0/8", "100.64.0.0/10", "192.0.2.0/24", "203.0.113.0/24", "224.0.0.0/4"]


def test_fast_path_agrees_with_ipaddress() -> None:
    for text in _random_addresses(20_000):
        slow = lookup_address(text, global_only=False)
        fast = lookup_key(text)
        if slow is None:
            assert fast is None, text
            continue
        assert fast is not None, text
        assert fast[0] == str(slow), text
        assert fast[1] == (lookup_address(text, global_only=True) is not None), text
        if isinstance(slow, ipaddress.IPv4Address) and not slow.is_multicast:
            assert fast[1] == slow.is_global, text  # the IANA registry, as Python reads it
