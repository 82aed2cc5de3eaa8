"""Detection configuration parsing (soc_platform.correlation.config)."""

import ipaddress
from datetime import timedelta
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soc_platform.correlation.config import (
    AllowEntry,
    ConfigFileError,
    DetectionConfig,
    RuleOverride,
    host_matches,
    normalize_host,
    parse_detection_config,
    parse_duration,
)
from soc_platform.errors import ConfigurationError

PROPS = settings(max_examples=200, deadline=None, database=None)
MIN = timedelta(minutes=1)

EXAMPLE = """
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
"""


def problems_of(text: str, source: str = "test.yaml") -> tuple[str, ...]:
    with pytest.raises(ConfigFileError) as info:
        parse_detection_config(text, source)
    assert info.value.source == source
    return info.value.problems


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


# --------------------------------------------------------------------------------------
# parse_duration
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        (" 5m ", timedelta(minutes=5)),
        ("0s", timedelta(0)),
        ("90", timedelta(seconds=90)),
        (90, timedelta(seconds=90)),
        (0, timedelta(0)),
    ],
)
def test_parse_duration(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["5x", "m", "", "1.5m", "-5m", "5M", "five minutes", "5m30s"])
def test_parse_duration_rejects_other_forms(text: str) -> None:
    with pytest.raises(ConfigurationError, match="must be a duration such as '30s', '5m'"):
        parse_duration(text)


@pytest.mark.parametrize("value", [True, 1.5, None, [1]])
def test_parse_duration_rejects_other_types(value: object) -> None:
    with pytest.raises(ConfigurationError, match="must be a duration"):
        parse_duration(value)  # type: ignore[arg-type]


def test_parse_duration_rejects_negative_and_huge() -> None:
    with pytest.raises(ConfigurationError, match="must not be negative, got -1"):
        parse_duration(-1)
    with pytest.raises(ConfigurationError, match="is too long"):
        parse_duration("9" * 30 + "d")


@PROPS
@given(st.integers(0, 10**6), st.sampled_from(["s", "m", "h", "d", "w"]))
def test_parse_duration_round_trips(amount: int, unit: str) -> None:
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    assert parse_duration(f"{amount}{unit}") == timedelta(seconds=amount * seconds)


@PROPS
@given(st.text(max_size=12))
def test_parse_duration_raises_only_configuration_errors(text: str) -> None:
    try:
        parse_duration(text)
    except ConfigurationError:
        pass


# --------------------------------------------------------------------------------------
# Parsing: valid documents
# --------------------------------------------------------------------------------------


def test_parses_the_documented_example() -> None:
    config = parse_detection_config(EXAMPLE, "detection.yaml")
    assert config.hop == MIN
    assert config.suppress_for == timedelta(minutes=30)
    assert dict(config.rules) == {
        "waf-sqli-burst": RuleOverride(count=8, timespan=timedelta(minutes=2)),
        "waf-request-flood": RuleOverride(enabled=False),
    }
    assert config.allowlist == (
        AllowEntry(
            name="internal scanners",
            networks=(net("10.0.0.0/8"), net("192.168.0.0/16")),
            rules=("waf-scanner-fuzzing", "waf-scanner-user-agent"),
        ),
        AllowEntry(name="uptime monitor", networks=(net("198.51.100.10/32"),)),
    )
    assert config.source == "detection.yaml"


@pytest.mark.parametrize("text", ["", "   \n", "null", "~", "# only a comment\n"])
def test_empty_documents_give_the_defaults(text: str) -> None:
    assert parse_detection_config(text) == DetectionConfig()
    assert DetectionConfig().hop == MIN
    assert DetectionConfig().suppress_for == timedelta(0)


def test_empty_sections_and_empty_rule_entries_are_accepted() -> None:
    config = parse_detection_config("defaults:\nrules:\n  waf-x:\nallowlist:\n")
    assert config == DetectionConfig(rules={"waf-x": RuleOverride()})


def test_every_rule_key_is_parsed() -> None:
    config = parse_detection_config(
        "rules:\n  r: {enabled: true, count: 3, timespan: 10m, hop: 2m, level: High, "
        "suppress_for: 1h}\n"
    )
    assert config.rules["r"] == RuleOverride(
        enabled=True,
        count=3,
        timespan=timedelta(minutes=10),
        hop=timedelta(minutes=2),
        level="high",
        suppress_for=timedelta(hours=1),
    )


def test_durations_may_be_integer_seconds() -> None:
    config = parse_detection_config("defaults: {hop: 120, suppress_for: 0}\n")
    assert (config.hop, config.suppress_for) == (timedelta(minutes=2), timedelta(0))


def test_override_fills_hop_and_suppression_from_the_defaults() -> None:
    config = parse_detection_config(
        "defaults: {hop: 2m, suppress_for: 30m}\n"
        "rules:\n  a: {count: 8}\n  b: {hop: 5m, suppress_for: 0s}\n"
    )
    assert config.override("a") == RuleOverride(
        count=8, hop=timedelta(minutes=2), suppress_for=timedelta(minutes=30)
    )
    # an explicit zero suppression is kept, not replaced by the default
    assert config.override("b") == RuleOverride(hop=timedelta(minutes=5), suppress_for=timedelta(0))
    assert config.override("unknown") == RuleOverride(
        hop=timedelta(minutes=2), suppress_for=timedelta(minutes=30)
    )


def test_is_enabled() -> None:
    config = parse_detection_config(EXAMPLE)
    assert not config.is_enabled("waf-request-flood")
    assert config.is_enabled("waf-sqli-burst")
    assert config.is_enabled("never-mentioned")


def test_config_is_immutable_and_hashable() -> None:
    rules = {"a": RuleOverride(count=2)}
    config = DetectionConfig(rules=rules)
    rules["b"] = RuleOverride()
    assert "b" not in config.rules
    assert isinstance(config.rules, MappingProxyType)
    with pytest.raises(TypeError):
        config.rules["c"] = RuleOverride()  # type: ignore[index]
    parsed = parse_detection_config(EXAMPLE)
    assert hash(parsed) == hash(parse_detection_config(EXAMPLE))
    assert parsed == parse_detection_config(EXAMPLE, "another source")


# --------------------------------------------------------------------------------------
# Parsing: errors
# --------------------------------------------------------------------------------------


def test_error_message_names_source_path_and_value() -> None:
    with pytest.raises(ConfigFileError) as info:
        parse_detection_config("rules:\n  waf-sqli-burst: {count: ten}\n", "prod.yaml")
    assert str(info.value) == (
        "detection config prod.yaml: rules.waf-sqli-burst.count: "
        "must be a positive integer, got 'ten'"
    )
    assert isinstance(info.value, ConfigurationError)


def test_every_problem_is_reported_at_once() -> None:
    text = """
rules:
  waf-sqli-burst: {count: 0, thresold: 3, timespn: 5m}
  waf-other: {level: hgih, hop: 30s, timespan: 0s, enabled: maybe}
allowlist:
  - name: scanners
    networks: [10.0.0.1/8, not-a-network]
  - name: scanners
    hosts: [example.com]
  - name: nothing
  - networks: [10.0.0.0/8]
foo: 1
"""
    with pytest.raises(ConfigFileError) as info:
        parse_detection_config(text, "prod.yaml")
    assert info.value.problems == (
        "unknown key 'foo' (expected one of defaults, rules, allowlist)",
        "rules.waf-sqli-burst: unknown key 'thresold' "
        "(expected one of enabled, count, timespan, hop, level, suppress_for)",
        "rules.waf-sqli-burst: unknown key 'timespn' "
        "(expected one of enabled, count, timespan, hop, level, suppress_for); "
        "did you mean 'timespan'?",
        "rules.waf-sqli-burst.count: must be a positive integer, got 0",
        "rules.waf-other.enabled: must be true or false, got 'maybe'",
        "rules.waf-other.timespan: must be positive, got '0s'",
        "rules.waf-other.hop: must be at least 1m, got '30s'",
        "rules.waf-other.level: must be one of informational, low, medium, high, critical, "
        "got 'hgih'; did you mean 'high'?",
        "allowlist[0].networks[0]: '10.0.0.1/8' has host bits set; did you mean '10.0.0.0/8'?",
        "allowlist[0].networks[1]: must be an IPv4 or IPv6 network in CIDR form such as "
        "'10.0.0.0/8', got 'not-a-network'",
        "allowlist[1].name: duplicate name 'scanners' (also allowlist[0].name)",
        "allowlist[2]: needs networks or hosts (an entry with neither would allow everything)",
        "allowlist[3]: missing required key 'name'",
    )
    message = str(info.value)
    assert message.startswith("detection config prod.yaml: 13 problems:\n  - unknown key 'foo'")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[1, 2]", "must be a mapping with keys defaults, rules, allowlist, got a list"),
        ("just text", "must be a mapping with keys defaults, rules, allowlist, got 'just text'"),
        ("rules: [a, b]", "rules: must be a mapping, got a list"),
        ("rules: {a: 3}", "rules.a: must be a mapping, got 3"),
        ("rules: {'': {}}", "rules: rule name must be a non-empty string, got ''"),
        ("allowlist: {a: b}", "allowlist: must be a list, got a mapping"),
        ("allowlist: [x]", "allowlist[0]: must be a mapping with keys name, networks, hosts, "
                           "rules, got 'x'"),
        ("defaults: {hop: 1m, suppres_for: 1m}", "defaults: unknown key 'suppres_for' "
                                                 "(expected one of hop, suppress_for); "
                                                 "did you mean 'suppress_for'?"),
        ("defaults: {hop: 59}", "defaults.hop: must be at least 1m, got 59"),
        ("defaults: {hop: 1.5m}", "defaults.hop: must be a duration such as '30s', '5m', '2h' "
                                  "or '1d' (or whole seconds), got '1.5m'"),
        ("defaults: {suppress_for: [1]}", "defaults.suppress_for: must be a duration such as "
                                          "'30s', '5m', '2h' or '1d' (or whole seconds), "
                                          "got a list"),
        ("rules: {r: {count: true}}", "rules.r.count: must be a positive integer, got True"),
        ("rules: {r: {count: 2.5}}", "rules.r.count: must be a positive integer, got 2.5"),
        ("rules: {r: {count: -3}}", "rules.r.count: must be a positive integer, got -3"),
        ("rules: {r: {level: 3}}", "rules.r.level: must be one of informational, low, medium, "
                                   "high, critical, got 3"),
        ("allowlist: [{name: a, networks: 10.0.0.0/8}]",
         "allowlist[0].networks: must be a list, got '10.0.0.0/8'"),
        ("allowlist: [{name: a, networks: [8]}]",
         "allowlist[0].networks[0]: must be a CIDR network such as '10.0.0.0/8', got 8"),
        ("allowlist: [{name: a, hosts: ['*']}]",
         "allowlist[0].hosts[0]: a wildcard must be a leading '*.' followed by a domain "
         "(e.g. '*.example.com'), got '*'"),
        ("allowlist: [{name: a, hosts: ['https://x.example.com/']}]",
         "allowlist[0].hosts[0]: must be a host name, not a URL or path, "
         "got 'https://x.example.com/'"),
        ("allowlist: [{name: a, hosts: ['bad host']}]",
         "allowlist[0].hosts[0]: is not a valid host name, got 'bad host'"),
        ("allowlist: [{name: a, hosts: [x.com], rules: ['', 3]}]",
         "allowlist[0].rules[0]: must be a rule name, got ''"),
        ("allowlist: [{name: '', hosts: [x.com]}]",
         "allowlist[0].name: must be a non-empty string, got ''"),
        ("allowlist: [{name: a, hosts: [x.com], nets: []}]",
         "allowlist[0]: unknown key 'nets' (expected one of name, networks, hosts, rules); "
         "did you mean 'networks'?"),
    ],
)  # fmt: skip
def test_specific_problems(text: str, problem: str) -> None:
    assert problem in problems_of(text)


def test_yaml_syntax_errors_name_the_line() -> None:
    (problem,) = problems_of("rules:\n  a: {count: 3\n")
    assert problem.startswith("invalid YAML at line 3, column 1:")


def test_duplicate_keys_are_rejected_not_silently_overwritten() -> None:
    (problem,) = problems_of("rules:\n  a: {count: 3}\n  a: {count: 4}\n")
    assert problem == "invalid YAML at line 3, column 3: duplicate key 'a'"


def test_yaml_anchors_and_merge_keys_still_work() -> None:
    config = parse_detection_config(
        "rules:\n  a: &base {count: 3, timespan: 5m}\n  b: {<<: *base, count: 4}\n"
    )
    assert config.rules["b"] == RuleOverride(count=4, timespan=timedelta(minutes=5))


def test_unsafe_yaml_tags_are_refused() -> None:
    (problem,) = problems_of("!!python/object/apply:os.system ['true']")
    assert problem.startswith("invalid YAML")


def test_check_rule_names_lists_unknown_names_with_suggestions() -> None:
    config = parse_detection_config(
        "rules:\n  waf-sqli-brust: {count: 3}\n  waf-sqli-burst: {count: 3}\n"
        "allowlist:\n  - {name: a, hosts: [x.com], rules: [waf-sqli-burst, nope]}\n",
        "prod.yaml",
    )
    with pytest.raises(ConfigFileError) as info:
        config.check_rule_names(["waf-sqli-burst", "waf-request-flood"])
    assert info.value.problems == (
        "rules.waf-sqli-brust: unknown rule 'waf-sqli-brust'; did you mean 'waf-sqli-burst'?",
        "allowlist[0].rules[1]: unknown rule 'nope'",
    )
    assert str(info.value).startswith("detection config prod.yaml: 2 problems:")
    config.check_rule_names(["waf-sqli-burst", "waf-sqli-brust", "nope"])


# --------------------------------------------------------------------------------------
# Allowlist matching
# --------------------------------------------------------------------------------------


def test_network_entries_match_client_ips() -> None:
    config = parse_detection_config(EXAMPLE)
    scanners, monitor = config.allowlist
    assert config.allowed("waf-scanner-fuzzing", "10.1.2.3", None) == scanners
    assert config.allowed("waf-scanner-fuzzing", "192.168.4.4", "shop.example.com") == scanners
    assert config.allowed("waf-scanner-fuzzing", "11.0.0.1", None) is None
    # the scanner entry is limited to its rules; the monitor entry applies to every rule
    assert config.allowed("waf-sqli-burst", "10.1.2.3", None) is None
    assert config.allowed("waf-sqli-burst", "198.51.100.10", None) == monitor
    assert config.allowed("waf-sqli-burst", "198.51.100.11", None) is None


@pytest.mark.parametrize("ip", [None, "", "not an ip", "10.0.0.1/8", "10.0.0.300"])
def test_missing_or_bad_client_ips_never_match_a_network(ip: str | None) -> None:
    entry = AllowEntry(name="n", networks=(net("10.0.0.0/8"),))
    assert not entry.matches("r", ip, "x.com")


def test_ipv6_and_ipv4_mapped_addresses() -> None:
    entry = AllowEntry(name="n", networks=(net("10.0.0.0/8"), net("2001:db8::/32")))
    assert entry.matches("r", "2001:db8::1", None)
    assert entry.matches("r", "::ffff:10.1.2.3", None)
    assert not entry.matches("r", "2001:db9::1", None)
    assert not entry.matches("r", "::1", None)


def test_host_entries_match_exact_names_and_wildcards_case_insensitively() -> None:
    entry = AllowEntry(name="h", hosts=("Status.Example.com", "*.internal.example.com"))
    assert entry.hosts == ("status.example.com", "*.internal.example.com")
    assert entry.matches("r", None, "status.example.com")
    assert entry.matches("r", None, "STATUS.example.com.:443")
    assert entry.matches("r", None, "a.b.internal.example.com")
    assert not entry.matches("r", None, "internal.example.com")
    assert not entry.matches("r", None, "evilinternal.example.com")
    assert not entry.matches("r", None, "www.example.com")
    assert not entry.matches("r", None, None)


def test_networks_and_hosts_must_both_match_when_both_given() -> None:
    config = parse_detection_config(
        "allowlist:\n  - name: probe\n    networks: [203.0.113.0/24]\n"
        "    hosts: ['*.example.com']\n"
    )
    assert config.allowed("r", "203.0.113.5", "shop.example.com") is not None
    assert config.allowed("r", "203.0.113.5", "shop.example.org") is None
    assert config.allowed("r", "198.51.100.1", "shop.example.com") is None
    assert config.allowed("r", "203.0.113.5", None) is None


def test_first_matching_entry_wins() -> None:
    config = parse_detection_config(
        "allowlist:\n  - {name: first, networks: [10.0.0.0/8]}\n"
        "  - {name: second, networks: [10.1.0.0/16]}\n"
    )
    entry = config.allowed("r", "10.1.1.1", None)
    assert entry is not None
    assert entry.name == "first"


def test_an_entry_with_neither_networks_nor_hosts_cannot_be_built() -> None:
    with pytest.raises(ConfigurationError, match="needs networks or hosts"):
        AllowEntry(name="everything")


@pytest.mark.parametrize(
    ("host", "normal"),
    [
        ("Shop.Example.com:443", "shop.example.com"),
        ("shop.example.com.", "shop.example.com"),
        ("  SHOP.example.COM  ", "shop.example.com"),
        ("[2001:db8::1]:8443", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("10.0.0.1:80", "10.0.0.1"),
    ],
)
def test_normalize_host(host: str, normal: str) -> None:
    assert normalize_host(host) == normal


@PROPS
@given(
    st.from_regex(r"[a-z0-9-]{1,10}(\.[a-z0-9-]{1,10}){0,3}", fullmatch=True),
    st.from_regex(r"[a-z0-9-]{1,10}(\.[a-z0-9-]{1,10}){0,2}", fullmatch=True),
)
def test_wildcards_match_exactly_the_proper_subdomains(sub: str, domain: str) -> None:
    assert host_matches(f"*.{domain}", f"{sub}.{domain}")
    assert not host_matches(f"*.{domain}", domain)
    assert not host_matches(f"*.{domain}", f"{sub}{domain}")
