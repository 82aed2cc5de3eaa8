"""Sigma to the letter: the defect classes a differential check against an independent
backend found, each on a real ``waf_events`` loaded through the parser and the hot store.

- ``|re`` is PCRE: ``\\b`` is a word boundary, ``.`` stops at a newline unless ``s``, ``m``
  is about ``^``/``$`` only;
- ``null`` is an absent value, not the empty string;
- a field WAF events lack makes its branch false: the rest of the rule converts;
- ``cs-host`` and ``cs-method`` are kept as sent (``|cased``, ``|re`` see them), while host
  groups and targets ignore the case of the name;
- IP addresses compare as addresses, whatever their spelling;
- case-insensitive matching folds every alphabet, whatever the database locale;
- ``|fieldref`` compares as strings do (case-insensitively; contains/startswith/endswith).
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from soc_platform.hot.embedded import EmbeddedPostgres
from soc_platform.hot.store import HotStore
from tests.helpers import waf_event
from tests.integration.sigma_support import (
    compile_rules,
    load_events,
    matching_offsets,
    module_database,
    rule_text,
)

T0 = datetime(2026, 3, 11, 8, 0, 0, tzinfo=UTC)


def _event(**kw: Any) -> dict[str, Any]:
    event = waf_event(T0, ip=kw.pop("ip", "203.0.113.7"), uri=kw.pop("uri", "/"))
    event["user_agent"] = "Mozilla/5.0"
    for key, value in kw.items():
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    return event


EVENTS: dict[str, dict[str, Any]] = {
    "sqlmap": _event(user_agent="sqlmap/1.7.2#stable"),
    "xsqlmapx": _event(user_agent="xsqlmapx"),
    "newline": _event(user_agent="curl/8.5\nsqlmap/1.7"),
    "umlauts": _event(uri="/Ärger/ÖL?q=ÜBER"),
    "mixed_host": _event(host="Shop.Example.com", request_method="get"),
    "ua_is_host": _event(host="Shop.Example.com", user_agent="visit SHOP.EXAMPLE.COM today"),
    "ua_equals_host": _event(host="a.example.com", user_agent="A.EXAMPLE.COM"),
    "no_ua": _event(user_agent=None),
    "empty_ua": _event(user_agent=""),
    "v6": _event(ip="2001:db8::1"),
    "backspace": _event(uri="/a\bb"),
}
NAMES = list(EVENTS)


@pytest.fixture(scope="module")
def dsn(pg_cluster: EmbeddedPostgres) -> Iterator[str]:
    with module_database(pg_cluster) as dsn:
        load_events(dsn, list(EVENTS.values()), T0)
        yield dsn


def matched(dsn: str, detection: str) -> set[str]:
    rule_set = compile_rules(rule_text(detection))
    assert not rule_set.problems, [str(p) for p in rule_set.problems]
    (rule,) = rule_set.rules
    return {NAMES[i] for i in matching_offsets(dsn, rule.predicate, T0)}


def refusal(detection: str) -> str:
    rule_set = compile_rules(rule_text(detection))
    assert rule_set.rules == []
    (problem,) = rule_set.problems
    assert problem.stage == "convert"
    return problem.message


CASES: list[tuple[str, str, set[str]]] = [
    # |re: \b is a word boundary (PostgreSQL reads it as a backspace)
    ("re_word_boundary", "c-useragent|re: '\\bsqlmap\\b'", {"sqlmap", "newline"}),
    ("re_backspace", "c-uri|re: '\\x08'", {"backspace"}),
    # . does not match a newline unless s
    ("re_dot_no_newline", "c-useragent|re: '^curl.*sqlmap'", set()),
    ("re_dot_s", "c-useragent|re|s: '^curl.*sqlmap'", {"newline"}),
    # m moves ^ and $ to line breaks, and does nothing to .
    ("re_m_anchor", "c-useragent|re|m: '^sqlmap'", {"sqlmap", "newline"}),
    ("re_m_dot", "c-useragent|re|m: '8\\.5.sqlmap'", set()),
    ("re_m_end", "c-useragent|re|m: '5$'", {"newline"}),
    ("re_no_m_end", "c-useragent|re: '5$'", set()),
    # null: absent, not empty
    ("null_is_absent", "c-useragent: null", {"no_ua"}),
    ("empty_is_a_value", "c-useragent: ''", {"empty_ua"}),
    ("exists_false", "c-useragent|exists: false", {"no_ua"}),
    # host and method as sent
    ("host_cased", "cs-host|cased: 'Shop.Example.com'", {"mixed_host", "ua_is_host"}),
    ("host_re", "cs-host|re: '^Shop\\.'", {"mixed_host", "ua_is_host"}),
    ("method_cased", "cs-method|cased: 'get'", {"mixed_host"}),
    ("method_insensitive", "cs-method: 'GET'", set(NAMES)),
    # addresses compare as addresses
    ("ipv6_long_form", "c-ip: '2001:db8:0:0::1'", {"v6"}),
    ("ipv6_upper_case", "c-ip: '2001:DB8::1'", {"v6"}),
    ("ipv6_wildcard_text", "c-ip: '2001:db8::*'", {"v6"}),
    # case-insensitivity beyond ASCII
    ("non_ascii_contains", "c-uri|contains: 'ärger/öl'", {"umlauts"}),
    (
        "non_ascii_list",
        "c-uri|contains:\n            - 'nothing'\n            - 'über'",
        {"umlauts"},
    ),
    ("non_ascii_re_i", "c-uri|re|i: '/ärger/öl'", {"umlauts"}),
    ("non_ascii_cased", "c-uri|contains|cased: 'ärger'", set()),
    # field references compare as strings do
    ("fieldref_equal", "c-useragent|fieldref: cs-host", {"ua_equals_host"}),
    (
        "fieldref_contains",
        "c-useragent|fieldref|contains: cs-host",
        {"ua_is_host", "ua_equals_host"},
    ),
    ("fieldref_startswith", "c-useragent|fieldref|startswith: cs-host", {"ua_equals_host"}),
]


@pytest.mark.parametrize(("item", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_detection_item(dsn: str, item: str, expected: set[str]) -> None:
    assert matched(dsn, f"    sel:\n        {item}\n    condition: sel") == expected


def test_keyword_ip_in_any_spelling(dsn: str) -> None:
    detection = "    keywords:\n        - '2001:DB8:0:0::1'\n    condition: keywords"
    assert matched(dsn, detection) == {"v6"}


def test_absent_field_branch_is_false_the_rest_converts(dsn: str) -> None:
    """``1 of selection_*`` with one selection on the Referer: that selection can never
    match WAF events, the others still detect (SigmaHQ's log4j-fields rule)."""
    detection = (
        "    selection_referer:\n        cs-referer|contains: 'jndi'\n"
        "    selection_ua:\n        c-useragent|contains: 'sqlmap'\n"
        "    condition: 1 of selection_*"
    )
    assert matched(dsn, detection) == {"sqlmap", "xsqlmapx", "newline"}


def test_absent_field_in_a_failed_and_branch(dsn: str) -> None:
    """``a or (b and referer)``: the AND branch is false, ``a`` stays (CVE-2021-26858)."""
    detection = (
        "    sel_a:\n        c-useragent|startswith: 'curl'\n"
        "    sel_b:\n        c-uri: '/'\n        cs-username|endswith: '$'\n"
        "    condition: sel_a or sel_b"
    )
    assert matched(dsn, detection) == {"newline"}


@pytest.mark.parametrize(
    ("detection", "says"),
    [
        (
            "    sel:\n        c-uri: '/'\n    filter:\n        cs-referer|contains: 'x'\n"
            "    condition: sel and not filter",
            "field 'cs-referer' (WAF events keep no Referer header) is tested under 'not'",
        ),
        (
            "    sel:\n        c-uri: '/'\n        cs-referer: null\n    condition: sel",
            "field 'cs-referer' (WAF events keep no Referer header) must be absent",
        ),
        (
            "    sel:\n        c-uri: '/'\n        cs-username: 'anonymous'\n    condition: sel",
            "the rule can never match over WAF events: field 'cs-username'",
        ),
        (
            "    sel:\n        cs-cookie|exists: true\n    condition: sel",
            "the rule can never match over WAF events: field 'cs-cookie'",
        ),
        # pySigma only lets through what RE2 parses; of that, PostgreSQL lacks these
        (
            "    sel:\n        c-uri|re: '\\pL+'\n    condition: sel",
            "regular expression '\\pL+': Unicode property '\\p'",
        ),
        (
            "    sel:\n        c-uri|re: 'a{300}'\n    condition: sel",
            "regular expression 'a{300}': repetition count above 255",
        ),
    ],
)
def test_refused_with_the_reason(detection: str, says: str) -> None:
    assert says in refusal(detection)


def test_unknown_field_still_fails() -> None:
    """Only fields of the web taxonomy WAF events do not record are absent; any other name
    is a typo or another log source's field."""
    assert "'CommandLine': no such field" in refusal(
        "    sel:\n        CommandLine: 'whoami'\n    condition: sel"
    )


def test_host_groups_and_targets_ignore_case(dsn: str) -> None:
    """Two spellings of one host name are one group and one target (DNS ignores case)."""
    text = "\n---\n".join(
        [
            rule_text("    sel:\n        cs-host: 'shop.example.com'\n    condition: sel", "shop"),
            "title: hosts\nname: hosts\ncorrelation:\n    type: event_count\n"
            "    rules: [shop]\n    group-by: [cs-host]\n    timespan: 5m\n"
            "    condition: {gte: 1}\n",
        ]
    )
    rule_set = compile_rules(text)
    assert rule_set.problems == []
    (rule,) = rule_set.rules
    store = HotStore(dsn)
    start = T0 - timedelta(minutes=1)
    params = {
        "span_starts": [start],
        "span_ends": [start + rule.timespan],
        "span_groups": [None],
        "lo": start,
        "hi": start + rule.timespan,
    }
    windows = store.match_rule(rule.query(), params)
    assert [w["group_key"] for w in windows] == ["shop.example.com"]
    (totals,) = store.match_rule(rule.query(totals=True), params)
    assert totals["event_count"] == len(NAMES) - 1  # all but a.example.com
    assert totals["hosts"] == ["shop.example.com"]
    assert totals["targets"] == [
        "shop.example.com" + p for p in sorted({"/", "/a\bb", "/Ärger/ÖL"})
    ]


def test_hot_table_keeps_empty_apart_from_missing(dsn: str) -> None:
    """Every nullable text column tells NULL from '' (Sigma's null vs '')."""
    with psycopg.connect(dsn) as conn:
        rows = dict(
            conn.execute(
                "SELECT user_agent IS NULL, count(*) FROM waf_events "
                "WHERE user_agent IS NULL OR user_agent = '' GROUP BY 1"
            ).fetchall()
        )
    assert rows == {True: 1, False: 1}
