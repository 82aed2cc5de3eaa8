"""Sigma detection semantics of the PostgreSQL backend, checked on a real ``waf_events``.

A handful of crafted events (URIs with ``%``, ``_``, ``\\`` and quotes, mixed case, WAF tag
lists, IPv4 and IPv6 clients, status codes, a missing and an empty User-Agent) are loaded
into the hot table; each small Sigma rule below is compiled through the rule-set loader
(WAF pipeline + backend) and its predicate run over the table. The test names exactly which
events each rule must match.
"""

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from sigma.collection import SigmaCollection

from soc_platform.correlation.ruleset import RuleSet, load_rule_set
from soc_platform.correlation.sigma.backend import PostgresBackend
from soc_platform.correlation.sigma.pipeline import waf_pipeline
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.parsing import get_parser, split_lines
from tests.helpers import to_jsonl, waf_event

T0 = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)
B64_CMD = base64.b64encode(b"x;whoami;id").decode()  # carries "whoami" at offset 2


def _event(uri: str, **kw: Any) -> dict[str, Any]:
    ua = kw.pop("ua", "Mozilla/5.0 (X11; Linux x86_64)")
    method = kw.pop("method", "GET")
    event = waf_event(T0, uri=uri, **kw)
    event["request_method"] = method
    if ua is None:
        del event["user_agent"]
    else:
        event["user_agent"] = ua
    return event


#: name -> event; the i-th event happens at T0 + i seconds, which identifies it in results
EVENTS: dict[str, dict[str, Any]] = {
    "sqli_quote": _event(
        "/products?id=1' OR '1'='1",
        status=403,
        rule_id=942100,
        rule_msg="SQL Injection Attack Detected via libinjection",
        tags=["attack-sqli", "OWASP_CRS"],
        ua="sqlmap/1.7.2#stable",
    ),
    "percent_lit": _event("/discount/100%off"),
    "percent_x": _event("/discount/100xoff"),
    "underscore": _event("/api/user_list"),
    "underscore_x": _event("/api/userXlist"),
    "backslash": _event("/files/C:\\Windows\\win.ini", ua="curl/8.5.0"),
    "mixed_case": _event("/Admin/Login.PHP"),
    "v6_wp_admin": _event("/wp-admin/install.php", ip="2001:db8::17", status=404),
    "v6_wp_login": _event("/wp-login.php", ip="2001:db9::1", status=404),
    "no_ua": _event("/health", ip="198.51.100.9", ua=None),
    "empty_ua": _event("/healthz", ua="", status=204),
    "traversal": _event(
        "/static/../../etc/passwd",
        ip="10.1.2.3",
        status=400,
        rule_id=930100,
        rule_msg="Path Traversal Attack (/../)",
        tags=["attack-lfi", "OWASP_CRS", "paranoia-level/1"],
    ),
    "b64": _event(f"/cgi-bin/run?c={B64_CMD}"),
    "server_error": _event("/api/orders", ip="192.168.1.50", status=500, method="POST"),
    "php_query": _event("/index.php?page=a"),
}
NAMES = list(EVENTS)
ALL = set(NAMES)


def _events_table() -> pa.Table:
    rows = []
    for i, event in enumerate(EVENTS.values()):
        row = dict(event)
        row["timestamp"] = (
            (T0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")  # identifies it
        )
        rows.append(row)
    block = split_lines(to_jsonl(rows).encode())
    result = get_parser("waf_json")(block, "sigma-backend.jsonl", datetime.now(UTC))
    assert result.dead_letters.num_rows == 0
    return result.events


@pytest.fixture
def hot(pg_dsn: str) -> HotStore:
    store = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))
    store.setup()
    loaded = store.load_events(_events_table())
    assert loaded is not None
    return store


def _rule(detection: str, name: str = "t") -> str:
    return (
        f"title: {name}\nname: {name}\nlogsource:\n    category: webserver\n"
        f"detection:\n{detection}\n"
    )


def _compile(text: str) -> RuleSet:
    return load_rule_set(Path("inline"), texts=[("inline.yml", text)])


def matched(hot: HotStore, pg_dsn: str, detection: str) -> set[str]:
    """The names of the events a rule's detection matches (and count_matches agrees)."""
    rule_set = _compile(_rule(detection))
    assert not rule_set.problems, [str(p) for p in rule_set.problems]
    (rule,) = rule_set.rules
    query = (
        "SELECT extract(epoch FROM e.event_time - %(t0)s::timestamptz)::int "
        f"FROM waf_events AS e WHERE ({rule.predicate.replace('%', '%%')})"
    )
    with psycopg.connect(pg_dsn) as conn:
        offsets = [r[0] for r in conn.execute(query, {"t0": T0}).fetchall()]
    names = {NAMES[i] for i in offsets}
    assert len(names) == len(offsets)
    count = hot.count_matches(rule.predicate, T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    assert count == len(names)
    return names


CASES: list[tuple[str, str, set[str]]] = [
    # strings compare case-insensitively by default
    (
        "case_insensitive",
        "    sel:\n        c-uri|contains: '/admin/login.php'\n    condition: sel",
        {"mixed_case"},
    ),
    (
        "exact_equality",
        "    sel:\n        c-uri: '/API/USER_LIST'\n    condition: sel",
        {"underscore"},
    ),
    (
        "startswith",
        "    sel:\n        c-uri|startswith: '/wp-'\n    condition: sel",
        {"v6_wp_admin", "v6_wp_login"},
    ),
    (
        "endswith",
        "    sel:\n        c-uri|endswith: '.php'\n    condition: sel",
        {"v6_wp_admin", "v6_wp_login", "mixed_case"},
    ),
    # Sigma wildcards are wildcards, SQL's % and _ in a value are literal characters
    (
        "star_wildcard",
        "    sel:\n        c-uri: '/discount/100*off'\n    condition: sel",
        {"percent_lit", "percent_x"},
    ),
    (
        "literal_percent",
        "    sel:\n        c-uri|contains: '100%off'\n    condition: sel",
        {"percent_lit"},
    ),
    (
        "literal_underscore",
        "    sel:\n        c-uri|contains: 'user_list'\n    condition: sel",
        {"underscore"},
    ),
    (
        "question_wildcard",
        "    sel:\n        c-uri|contains: 'user?list'\n    condition: sel",
        {"underscore", "underscore_x"},
    ),
    (
        "escaped_question_is_literal",
        "    sel:\n        c-uri|contains: 'php\\?page'\n    condition: sel",
        {"php_query"},
    ),
    (
        "literal_backslash",
        "    sel:\n        c-uri|contains: 'C:\\Windows\\win.ini'\n    condition: sel",
        {"backslash"},
    ),
    (
        "single_quote",
        "    sel:\n        c-uri|contains: \"'1'='1\"\n    condition: sel",
        {"sqli_quote"},
    ),
    (
        "cased",
        "    sel:\n        c-uri|contains|cased: '/admin/'\n    condition: sel",
        set(),
    ),
    (
        "cased_exact",
        "    sel:\n        c-uri|contains|cased: '/Admin/'\n    condition: sel",
        {"mixed_case"},
    ),
    (
        "regex",
        "    sel:\n        c-uri|re: '^/wp-(admin|login)'\n    condition: sel",
        {"v6_wp_admin", "v6_wp_login"},
    ),
    ("regex_is_cased", "    sel:\n        c-uri|re: '^/admin/'\n    condition: sel", set()),
    (
        "regex_ignorecase",
        "    sel:\n        c-uri|re|i: '^/admin/login\\.php$'\n    condition: sel",
        {"mixed_case"},
    ),
    (
        "regex_dot_not_newline_free",
        "    sel:\n        cs-user-agent|re: '^sqlmap/[0-9.]+#'\n    condition: sel",
        {"sqli_quote"},
    ),
    (
        "cidr_v4",
        "    sel:\n        c-ip|cidr:\n            - 10.0.0.0/8\n            - 192.168.0.0/16\n"
        "    condition: sel",
        {"traversal", "server_error"},
    ),
    (
        "cidr_v6",
        "    sel:\n        c-ip|cidr: '2001:db8::/32'\n    condition: sel",
        {"v6_wp_admin"},
    ),
    ("ip_equality", "    sel:\n        c-ip: '2001:db9::1'\n    condition: sel", {"v6_wp_login"}),
    (
        "all_modifier",
        "    sel:\n        c-uri|contains|all:\n            - 'wp-'\n            - 'install'\n"
        "    condition: sel",
        {"v6_wp_admin"},
    ),
    (
        "list_values_or",
        "    sel:\n        c-uri|contains:\n            - 'wp-'\n            - 'passwd'\n"
        "    condition: sel",
        {"v6_wp_admin", "v6_wp_login", "traversal"},
    ),
    # a list column matches when any element does
    ("tags_any", "    sel:\n        rule_tags: 'attack-lfi'\n    condition: sel", {"traversal"}),
    (
        "tags_any_case",
        "    sel:\n        rule_tags: 'owasp_crs'\n    condition: sel",
        {"traversal", "sqli_quote"},
    ),
    (  # each value may match a different element
        "tags_all",
        "    sel:\n        rule_tags|contains|all:\n            - 'sqli'\n            - 'crs'\n"
        "    condition: sel",
        {"sqli_quote"},
    ),
    (
        "tags_wildcard",
        "    sel:\n        rule_tags: 'paranoia-level/*'\n    condition: sel",
        {"traversal"},
    ),
    # keywords (values without a field) search the request text
    ("keywords", "    keywords:\n        - 'SQLMAP'\n    condition: keywords", {"sqli_quote"}),
    (
        "keywords_message_and_uri",
        "    keywords:\n        - 'path traversal'\n        - '/api/orders'\n"
        "    condition: keywords",
        {"traversal", "server_error"},
    ),
    # null: the field is absent (the empty string is a value); exists: present
    ("null", "    sel:\n        c-useragent: null\n    condition: sel", {"no_ua"}),
    ("empty_string", "    sel:\n        c-useragent: ''\n    condition: sel", {"empty_ua"}),
    ("exists", "    sel:\n        c-useragent|exists: true\n    condition: sel", ALL - {"no_ua"}),
    ("not_exists", "    sel:\n        c-useragent|exists: false\n    condition: sel", {"no_ua"}),
    # numbers on the numeric status column
    (
        "status_range",
        "    sel:\n        sc-status|gte: 400\n    filter:\n        sc-status|lt: 500\n"
        "    condition: sel and filter",
        {"sqli_quote", "v6_wp_admin", "v6_wp_login", "traversal"},
    ),
    ("status_equals", "    sel:\n        sc-status: 204\n    condition: sel", {"empty_ua"}),
    (
        "status_list",
        "    sel:\n        sc-status:\n            - 404\n            - 500\n    condition: sel",
        {"v6_wp_admin", "v6_wp_login", "server_error"},
    ),
    ("method", "    sel:\n        cs-method: 'post'\n    condition: sel", {"server_error"}),
    (
        "uri_stem_is_the_path",
        "    sel:\n        cs-uri-stem: '/index.php'\n    condition: sel",
        {"php_query"},
    ),
    (
        "uri_stem_excludes_query",
        "    sel:\n        cs-uri-stem|contains: 'page='\n    condition: sel",
        set(),
    ),
    (
        "uri_extension",
        "    sel:\n        c-uri-extension: 'php'\n    condition: sel",
        {"v6_wp_admin", "v6_wp_login", "mixed_case", "php_query"},
    ),
    (
        "base64offset",
        "    sel:\n        c-uri|base64offset|contains: 'whoami'\n    condition: sel",
        {"b64"},
    ),
    # boolean structure
    (
        "not",
        "    sel:\n        c-uri|startswith: '/wp-'\n    condition: not sel",
        ALL - {"v6_wp_admin", "v6_wp_login"},
    ),
    (
        "not_over_a_missing_field",  # an absent User-Agent does not contain 'mozilla'
        "    sel:\n        c-useragent|contains: 'mozilla'\n    condition: not sel",
        {"sqli_quote", "backslash", "no_ua", "empty_ua"},
    ),
    (
        "selection_and_not_filter",
        "    sel:\n        sc-status|gte: 400\n    filter:\n        c-ip|cidr: 2001:db8::/32\n"
        "    condition: sel and not filter",
        {"sqli_quote", "v6_wp_login", "traversal", "server_error"},
    ),
    (
        "not_of_a_group",
        "    sel_ua:\n        c-useragent|contains: 'mozilla'\n"
        "    sel_err:\n        sc-status: 500\n    condition: not (sel_ua or sel_err)",
        {"sqli_quote", "backslash", "no_ua", "empty_ua"},
    ),
    (
        "neq_modifier",
        "    sel:\n        c-useragent|neq: 'curl/8.5.0'\n        sc-status|lt: 300\n"
        "    condition: sel",
        ALL
        - {"backslash", "sqli_quote", "v6_wp_admin", "v6_wp_login"}
        - {"traversal", "server_error"},
    ),
    (
        "ip_wildcard",
        "    sel:\n        c-ip: '192.168.1.*'\n    condition: sel",
        {"server_error"},
    ),
    (
        "one_of_pattern",
        "    selection_lfi:\n        c-uri|contains: '/etc/passwd'\n"
        "    selection_err:\n        sc-status: 500\n    condition: 1 of selection_*",
        {"traversal", "server_error"},
    ),
    (
        "all_of_pattern",
        "    selection_a:\n        c-uri|startswith: '/wp-'\n"
        "    selection_b:\n        c-ip|cidr: '2001:db8::/32'\n    condition: all of selection_*",
        {"v6_wp_admin"},
    ),
]


@pytest.mark.parametrize(
    ("detection", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule_matches_exactly(
    hot: HotStore, pg_dsn: str, detection: str, expected: set[str]
) -> None:
    assert matched(hot, pg_dsn, detection) == expected


def test_default_format_is_a_runnable_select(hot: HotStore, pg_dsn: str) -> None:
    backend = PostgresBackend(waf_pipeline())
    collection = SigmaCollection.from_yaml(
        _rule("    sel:\n        c-uri|contains: \"'1'='1\"\n    condition: sel")
    )
    (query,) = backend.convert(collection)
    assert query.startswith("SELECT e.* FROM waf_events AS e WHERE ")
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(query.replace("%", "%%"), {}).fetchall()
    assert len(rows) == 1


def test_unavailable_field_fails_naming_the_field() -> None:
    rule_set = _compile(_rule("    sel:\n        cs-referer|contains: 'evil'\n    condition: sel"))
    assert rule_set.rules == []
    (problem,) = rule_set.problems
    assert problem.stage == "convert"
    assert "cs-referer" in problem.message
    assert "Referer" in problem.message


def test_unknown_field_fails_naming_the_field() -> None:
    rule_set = _compile(_rule("    sel:\n        CommandLine: 'whoami'\n    condition: sel"))
    (problem,) = rule_set.problems
    assert problem.stage == "convert"
    assert "'CommandLine'" in problem.message


def test_windows_rule_fails_on_its_logsource() -> None:
    text = (
        "title: Failed logon\nname: failed_logon\nlogsource:\n    product: windows\n"
        "    service: security\ndetection:\n    sel:\n        EventID: 4625\n"
        "    condition: sel\n"
    )
    rule_set = _compile(text)
    assert rule_set.rules == []
    (problem,) = rule_set.problems
    assert problem.stage == "convert"
    assert problem.rule == "failed_logon"
    assert "log source is not web traffic" in problem.message


def test_window_query_negation_over_a_missing_field(hot: HotStore) -> None:
    """``health and not curl`` per client: the client whose only event has no User-Agent
    made no curl request, so its window fires (a NULL flag is not a match)."""
    text = "\n---\n".join(
        [
            _rule("    sel:\n        c-uri|startswith: '/health'\n    condition: sel", "health"),
            _rule("    sel:\n        c-useragent|contains: 'curl'\n    condition: sel", "curl"),
            "title: health without curl\nname: health_not_curl\ncorrelation:\n"
            "    type: temporal\n    rules: [health, curl]\n    group-by: [c-ip]\n"
            "    timespan: 5m\n    condition: health and not curl\n",
        ]
    )
    rule_set = load_rule_set(Path("inline"), texts=[("inline.yml", text)])
    assert rule_set.problems == []
    (rule,) = rule_set.rules
    start = T0 - timedelta(minutes=1)
    rows = hot.match_rule(
        rule.query(),
        {
            "span_starts": [start],
            "span_ends": [start + rule.timespan],
            "span_groups": [None],
            "lo": start,
            "hi": start + rule.timespan,
        },
    )
    # 203.0.113.7 also asked for /healthz, but made a curl request too
    assert [r["group_key"] for r in rows] == ["198.51.100.9"]
