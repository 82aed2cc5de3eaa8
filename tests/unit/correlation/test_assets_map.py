"""Asset criticality map (soc_platform.correlation.assets_map)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soc_platform.correlation.assets_map import AssetCriticality, parse_asset_criticality
from soc_platform.correlation.config import ConfigFileError
from soc_platform.correlation.scoring import CRITICALITIES
from soc_platform.errors import ConfigurationError

PROPS = settings(max_examples=200, deadline=None, database=None)

EXAMPLE = """
# host name or wildcard -> low | medium | high | critical
shop.example.com: critical
"*.internal.example.com": low
default: medium        # optional; used when nothing matches (else None)
"""

PRECEDENCE = AssetCriticality(
    hosts={
        "*.example.com": "medium",
        "*.api.example.com": "high",
        "*.admin.api.example.com": "critical",
        "status.api.example.com": "low",
    }
)


def problems_of(text: str, source: str = "assets.yaml") -> tuple[str, ...]:
    with pytest.raises(ConfigFileError) as info:
        parse_asset_criticality(text, source)
    return info.value.problems


def test_parses_the_documented_example() -> None:
    assets = parse_asset_criticality(EXAMPLE, "assets.yaml")
    assert assets == AssetCriticality(
        hosts={"shop.example.com": "critical", "*.internal.example.com": "low"},
        default="medium",
    )
    assert assets.lookup("shop.example.com") == "critical"
    assert assets.lookup("wiki.internal.example.com") == "low"
    assert assets.lookup("elsewhere.org") == "medium"
    assert assets.lookup(None) == "medium"


def test_without_a_default_unknown_hosts_have_none() -> None:
    assets = parse_asset_criticality("shop.example.com: high\n")
    assert assets.default is None
    assert assets.lookup("other.example.com") is None
    assert assets.lookup(None) is None
    assert assets.lookup("") is None


@pytest.mark.parametrize(
    "host", ["Shop.Example.com:443", "SHOP.EXAMPLE.COM", "shop.example.com.", " shop.example.com "]
)
def test_lookup_ignores_case_port_trailing_dot_and_spaces(host: str) -> None:
    assert parse_asset_criticality(EXAMPLE).lookup(host) == "critical"


def test_keys_are_normalised_too() -> None:
    assets = parse_asset_criticality("Shop.Example.COM.: high\n'*.Internal.Example.com': low\n")
    assert dict(assets.hosts) == {"shop.example.com": "high", "*.internal.example.com": "low"}
    assert assets.lookup("a.internal.example.com") == "low"


@pytest.mark.parametrize(
    ("host", "level"),
    [
        ("status.api.example.com", "low"),  # exact beats every wildcard
        ("x.admin.api.example.com", "critical"),  # longest wildcard suffix wins
        ("a.b.admin.api.example.com", "critical"),  # at any depth
        ("admin.api.example.com", "high"),  # *.admin... does not match admin... itself
        ("v1.api.example.com", "high"),
        ("api.example.com", "medium"),
        ("www.example.com", "medium"),
        ("example.com", None),  # *.example.com needs a subdomain
        ("notexample.com", None),
        ("example.com.evil.org", None),
    ],
)
def test_wildcard_precedence(host: str, level: str | None) -> None:
    assert PRECEDENCE.lookup(host) == level


def test_precedence_does_not_depend_on_file_order() -> None:
    forward = parse_asset_criticality("'*.example.com': low\n'*.a.example.com': high\n")
    backward = parse_asset_criticality("'*.a.example.com': high\n'*.example.com': low\n")
    for assets in (forward, backward):
        assert assets.lookup("x.a.example.com") == "high"
        assert assets.lookup("x.b.example.com") == "low"


def test_ip_addresses_are_exact_hosts() -> None:
    assets = parse_asset_criticality("10.0.0.5: critical\n'2001:db8::1': high\n")
    assert assets.lookup("10.0.0.5:8080") == "critical"
    assert assets.lookup("[2001:db8::1]:443") == "high"
    assert assets.lookup("10.0.0.6") is None


def test_highest() -> None:
    assets = parse_asset_criticality(EXAMPLE)
    assert assets.highest(["wiki.internal.example.com", "shop.example.com"]) == "critical"
    assert assets.highest(["wiki.internal.example.com", "other.org"]) == "medium"
    assert assets.highest(["wiki.internal.example.com"]) == "low"
    assert assets.highest([]) is None
    no_default = parse_asset_criticality("'*.internal.example.com': low\n")
    assert no_default.highest(["a.org", "b.org"]) is None
    assert no_default.highest(["a.org", "x.internal.example.com"]) == "low"


def test_the_wrapped_shape() -> None:
    flat = parse_asset_criticality(EXAMPLE)
    wrapped = parse_asset_criticality(
        "assets:\n  shop.example.com: critical\n  '*.internal.example.com': low\ndefault: medium\n"
    )
    inner_default = parse_asset_criticality(
        "assets:\n  shop.example.com: critical\n  '*.internal.example.com': low\n"
        "  default: medium\n"
    )
    assert flat == wrapped == inner_default
    assert parse_asset_criticality("assets:\n") == AssetCriticality()


@pytest.mark.parametrize("text", ["", "null", "# nothing\n"])
def test_empty_documents_give_an_empty_map(text: str) -> None:
    assets = parse_asset_criticality(text)
    assert assets == AssetCriticality()
    assert assets.lookup("anything.example.com") is None


def test_levels_are_case_insensitive() -> None:
    assets = parse_asset_criticality("a.example.com: HIGH\ndefault: Low\n")
    assert (assets.lookup("a.example.com"), assets.default) == ("high", "low")


def test_error_message_names_source_path_and_value() -> None:
    with pytest.raises(ConfigFileError) as info:
        parse_asset_criticality("shop.example.com: critcal\n", "prod-assets.yaml")
    assert str(info.value) == (
        "asset criticality prod-assets.yaml: shop.example.com: must be one of low, medium, "
        "high, critical, got 'critcal'; did you mean 'critical'?"
    )
    assert isinstance(info.value, ConfigurationError)


def test_every_problem_is_reported_at_once() -> None:
    text = (
        "shop.example.com: critcal\n"
        "Shop.Example.com: low\n"
        "'a*.example.com': high\n"
        "'https://x.example.com/': low\n"
        "api.example.com:\n"
        "www.example.com: informational\n"
        "default: normal\n"
    )
    assert problems_of(text) == (
        "default: must be one of low, medium, high, critical, got 'normal'",
        "shop.example.com: must be one of low, medium, high, critical, got 'critcal'; "
        "did you mean 'critical'?",
        "Shop.Example.com: same host as 'shop.example.com' (names are case-insensitive)",
        "a*.example.com: a wildcard must be a leading '*.' followed by a domain "
        "(e.g. '*.example.com'), got 'a*.example.com'",
        "https://x.example.com/: must be a host name, not a URL or path, "
        "got 'https://x.example.com/'",
        "api.example.com: must be one of low, medium, high, critical, got None",
        "www.example.com: must be one of low, medium, high, critical, got 'informational'",
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[a, b]", "must be a mapping of host name to criticality, got a list"),
        ("assets: [a]", "assets: must be a mapping of host name to level, got a list"),
        ("assets: {a.com: high}\nextra: 1\n",
         "unknown key 'extra' (expected one of assets, default)"),
        ("assets: {a.com: [high]}", "assets.a.com: must be one of low, medium, high, critical, "
                                    "got a list"),
        ("assets: {'*': high}", "assets.*: a wildcard must be a leading '*.' followed by a "
                                "domain (e.g. '*.example.com'), got '*'"),
        ("assets: {default: low}\ndefault: low\n",
         "assets.default: default is also given at the top level"),
        ("assets: {default: lo}", "assets.default: must be one of low, medium, high, critical, "
                                  "got 'lo'; did you mean 'low'?"),
        ("42: high", "42: must be a host name or '*.domain' wildcard, got 42"),
    ],
)  # fmt: skip
def test_specific_problems(text: str, problem: str) -> None:
    assert problem in problems_of(text)


def test_duplicate_keys_are_rejected() -> None:
    (problem,) = problems_of("a.example.com: low\na.example.com: high\n")
    assert problem == "invalid YAML at line 2, column 1: duplicate key 'a.example.com'"


def test_direct_construction_validates_and_freezes() -> None:
    with pytest.raises(ConfigurationError, match="criticality must be one of"):
        AssetCriticality(hosts={"a.com": "extreme"})
    with pytest.raises(ConfigurationError, match="criticality must be one of"):
        AssetCriticality(default="informational")
    with pytest.raises(ConfigurationError, match="wildcard"):
        AssetCriticality(hosts={"a.*.com": "low"})
    hosts = {"a.com": "low"}
    assets = AssetCriticality(hosts=hosts)
    hosts["b.com"] = "high"
    assert assets.lookup("b.com") is None
    assert hash(assets) == hash(AssetCriticality(hosts={"a.com": "low"}))


LABEL = st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True)
DOMAINS = st.lists(LABEL, min_size=1, max_size=4).map(".".join)


@PROPS
@given(
    st.dictionaries(DOMAINS, st.sampled_from(CRITICALITIES), max_size=6),
    st.dictionaries(DOMAINS, st.sampled_from(CRITICALITIES), max_size=6),
    st.lists(LABEL, min_size=0, max_size=3),
    DOMAINS,
)
def test_lookup_agrees_with_a_brute_force_reference(
    exact: dict[str, str], wildcards: dict[str, str], prefix: list[str], domain: str
) -> None:
    hosts = {**exact, **{f"*.{d}": level for d, level in wildcards.items()}}
    assets = AssetCriticality(hosts=hosts, default=None)
    host = ".".join([*prefix, domain])
    if host in exact:
        expected: str | None = exact[host]
    else:
        matching = [d for d in wildcards if host.endswith("." + d)]
        expected = wildcards[max(matching, key=len)] if matching else None
    assert assets.lookup(host) == expected
    assert assets.lookup(host.upper() + ".:8443") == expected
