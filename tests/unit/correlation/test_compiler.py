"""Unit tests for the Sigma -> window-query compiler (soc_platform.correlation.compiler).

Pure: rules are compiled from in-memory YAML through the WAF pipeline and the PostgreSQL
backend; nothing runs against a database.
"""

import re
from datetime import timedelta

import pytest
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from soc_platform.correlation.compiler import (
    MAX_WINDOWS_PER_SPAN,
    Compiled,
    CompiledRule,
    Tuning,
    attack_tags,
    compile_collection,
    hop_for,
    ordered_match,
)
from soc_platform.correlation.sigma.backend import PostgresBackend
from soc_platform.correlation.sigma.pipeline import waf_pipeline

S = timedelta(seconds=1)
M = timedelta(minutes=1)

# --------------------------------------------------------------------------------------
# hop_for
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timespan", "hop", "expected"),
    [
        (5 * M, M, M),  # the configured hop fits
        (2 * M, M, 30 * S),  # at most a quarter of the timespan
        (M, M, 15 * S),
        (10 * S, M, 2 * S),  # whole seconds
        (2 * S, M, S),  # never below a second
        (5 * M, 10 * S, 10 * S),  # a finer configured hop is kept
        (timedelta(days=1), M, 24 * M),  # at most 60 windows per timespan: 24 h / 60
        (timedelta(hours=1), S, M),
        (timedelta(minutes=90), 10 * S, 2 * M),  # 90 s rounded up to whole minutes
    ],
)
def test_hop_for(timespan: timedelta, hop: timedelta, expected: timedelta) -> None:
    assert hop_for(timespan, hop) == expected


@pytest.mark.parametrize(
    "timespan", [S, 7 * S, M, 5 * M, timedelta(hours=1), timedelta(days=1), timedelta(days=7)]
)
def test_hop_for_bounds(timespan: timedelta) -> None:
    hop = hop_for(timespan, M)
    assert hop >= S
    assert hop <= max(S, timespan / 4) or hop.total_seconds() % 60 == 0
    assert timespan / hop <= MAX_WINDOWS_PER_SPAN


# --------------------------------------------------------------------------------------
# ordered_match
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("times", "needs", "expected"),
    [
        ([[1.0], [2.0]], [1, 1], True),
        ([[2.0], [1.0]], [1, 1], False),  # wrong order
        ([[1.0], [1.0]], [1, 1], False),  # simultaneous is not "after"
        ([[1.0, 5.0], [2.0, 6.0]], [1, 1], True),
        ([[5.0], [1.0, 2.0, 6.0]], [1, 1], True),  # earlier events of the second rule ignored
        ([[1.0], None], [1, 1], False),  # a rule without events
        ([None, [2.0]], [1, 1], False),
        ([[1.0], [3.0], [2.0]], [1, 1, 1], False),
        ([[1.0, 4.0], [3.0], [2.0, 5.0]], [1, 1, 1], True),
        # nested counts: the first rule fires at its third event
        ([[1.0, 2.0, 3.0], [4.0]], [3, 1], True),
        ([[1.0, 2.0, 5.0], [4.0]], [3, 1], False),
        ([[1.0, 2.0, 3.0, 6.0], [4.0, 7.0]], [3, 1], True),
        ([[1.0, 2.0], [4.0]], [3, 1], False),  # too few
        ([[1.0], [2.0, 3.0, 4.0]], [1, 3], True),
        ([[3.0], [2.0, 4.0, 5.0]], [1, 3], False),  # only two of the second after the first
        ([[1.0], [2.0, 3.0], [2.5, 4.0]], [1, 2, 1], True),  # fires at 3: then 4
        ([[1.0], [2.0, 3.0], [2.5]], [1, 2, 1], False),
    ],
)
def test_ordered_match(times: list[list[float] | None], needs: list[int], expected: bool) -> None:
    assert ordered_match(times, needs) is expected


def test_ordered_match_needs_one_count_per_rule() -> None:
    with pytest.raises(ValueError):
        ordered_match([[1.0], [2.0]], [1])


# --------------------------------------------------------------------------------------
# attack_tags
# --------------------------------------------------------------------------------------


def test_attack_tags() -> None:
    rule = SigmaRule.from_yaml(
        """
title: tagged
logsource: {category: webserver}
detection: {sel: {sc-status: 500}, condition: sel}
tags:
    - attack.initial_access
    - attack.t1190
    - attack.T1110.001
    - attack.credential_access
    - attack.t1190
    - attack.g0007
    - attack.s0002
    - cve.2021-44228
    - detection.emerging-threats
"""
    )
    assert attack_tags(rule) == (
        ("T1190", "T1110.001"),
        ("initial-access", "credential-access"),
    )


def test_attack_tags_without_tags() -> None:
    rule = SigmaRule.from_yaml(
        "title: t\nlogsource: {category: webserver}\n"
        "detection: {sel: {sc-status: 500}, condition: sel}\n"
    )
    assert attack_tags(rule) == ((), ())


# --------------------------------------------------------------------------------------
# compiling collections
# --------------------------------------------------------------------------------------

SQLI = """
title: SQL injection
name: sqli
tags: [attack.initial_access, attack.t1190]
logsource: {category: webserver}
detection:
    sel:
        rule_tags: attack-sqli
    condition: sel
"""
LOGIN_FAIL = """
title: Failed login
name: login_fail
tags: [attack.credential_access, attack.t1110]
logsource: {category: webserver}
detection:
    sel:
        cs-uri-stem: /login
        sc-status: 401
    condition: sel
"""
LOGIN_OK = """
title: Successful login
name: login_ok
logsource: {category: webserver}
detection:
    sel:
        cs-uri-stem: /login
        sc-status: 200
    condition: sel
"""
ADMIN = """
title: Admin page
name: admin_page
logsource: {category: webserver}
detection:
    sel:
        c-uri|contains: '/admin%'
        cs-host: 'shop_*'
    condition: sel
"""


def compile_yaml(*documents: str, tuning: dict[str, Tuning] | None = None) -> Compiled:
    collection = SigmaCollection.from_yaml("\n---\n".join(d.strip() for d in documents))
    backend = PostgresBackend(waf_pipeline(), collect_errors=True)
    backend.init_processing_pipeline("predicate")
    return compile_collection(collection, backend, hop=M, tuning=tuning)


def only_rule(compiled: Compiled) -> CompiledRule:
    assert compiled.errors == []
    (rule,) = compiled.rules
    return rule


def errors_of(compiled: Compiled) -> dict[str, str]:
    return {str(rule.name or rule.title): message for rule, message in compiled.errors}


def correlation(body: str, name: str = "corr", extra: str = "") -> str:
    return f"title: {name} correlation\nname: {name}\n{extra}correlation:\n{body}"


def test_detection_rule_alone_raises_incidents_per_client_ip() -> None:
    rule = only_rule(compile_yaml(SQLI))
    assert rule.kind == "detection"
    assert rule.name == "sqli"
    assert rule.having == "count(*) >= 1"
    assert rule.group_key == "coalesce(host(e.client_ip), '')"
    assert rule.ip_field == "c-ip"
    assert rule.timespan == 5 * M and rule.hop == M
    assert rule.techniques == ("T1190",) and rule.tactics == ("initial-access",)
    assert "unnest(e.rule_tags)" in rule.predicate
    assert "'attack-sqli'" in rule.predicate


def test_tuning_changes_count_timespan_and_version() -> None:
    plain = only_rule(compile_yaml(SQLI))
    tuned = only_rule(
        compile_yaml(SQLI, tuning={"sqli": Tuning(count=3, timespan=timedelta(minutes=10))})
    )
    assert tuned.having == "count(*) >= 3"
    assert tuned.timespan == 10 * M
    assert tuned.version != plain.version


def test_event_count() -> None:
    compiled = compile_yaml(
        SQLI,
        correlation(
            "    type: event_count\n    rules: [sqli]\n    group-by: [c-ip]\n"
            "    timespan: 5m\n    condition: {gte: 10}\n",
            extra="level: high\n",
        ),
    )
    rule = only_rule(compiled)  # the referenced detection raises nothing of its own
    assert len(compiled.converted) == 2
    assert rule.kind == "event_count"
    assert rule.having == "count(*) >= 10"
    assert rule.op == ">=" and rule.threshold == 10
    assert rule.group_fields == ("c-ip",)
    assert rule.group_key == "coalesce(host(e.client_ip), '')"
    assert rule.ip_field == "c-ip"
    assert rule.value == "NULL"
    assert rule.level == "high"
    assert rule.timespan == 5 * M and rule.hop == M
    assert [r.name for r in rule.refs] == ["sqli"]
    assert rule.techniques == ("T1190",)  # from the referenced rule


def test_generate_keeps_the_referenced_rule() -> None:
    compiled = compile_yaml(
        SQLI,
        correlation(
            "    type: event_count\n    rules: [sqli]\n    generate: true\n"
            "    group-by: [c-ip]\n    timespan: 5m\n    condition: {gt: 4}\n"
        ),
    )
    assert compiled.errors == []
    assert sorted((r.name, r.having) for r in compiled.rules) == [
        ("corr", "count(*) > 4"),
        ("sqli", "count(*) >= 1"),
    ]


def test_value_count() -> None:
    rule = only_rule(
        compile_yaml(
            LOGIN_FAIL,
            correlation(
                "    type: value_count\n    rules: [login_fail]\n    group-by: [c-ip]\n"
                "    timespan: 10m\n    condition: {field: cs-host, gt: 20}\n"
            ),
        )
    )
    assert rule.kind == "value_count"
    # host names count case-insensitively (DNS): Shop.example.com is shop.example.com
    assert rule.value == 'lower(e.host COLLATE "C")'
    assert rule.having == "count(DISTINCT val) > 20"
    assert rule.timespan == 10 * M


def test_value_count_of_several_fields_and_groups() -> None:
    rule = only_rule(
        compile_yaml(
            LOGIN_FAIL,
            correlation(
                "    type: value_count\n    rules: [login_fail]\n"
                "    group-by: [cs-host, c-useragent]\n    timespan: 1h\n"
                "    condition: {field: [c-ip, sc-status], lte: 2}\n"
            ),
        )
    )
    assert rule.value == "jsonb_build_array(host(e.client_ip), (e.status_code)::text)::text"
    assert rule.group_key == 'jsonb_build_array(lower(e.host COLLATE "C"), e.user_agent)::text'
    assert rule.ip_field is None
    assert rule.having == "count(DISTINCT val) <= 2"


@pytest.mark.parametrize(
    ("kind", "aggregate"),
    [
        ("value_sum", "sum(val)"),
        ("value_avg", "avg(val)"),
        ("value_median", "percentile_cont(0.5) WITHIN GROUP (ORDER BY val)"),
    ],
)
def test_numeric_value_aggregates(kind: str, aggregate: str) -> None:
    rule = only_rule(
        compile_yaml(
            LOGIN_FAIL,
            correlation(
                f"    type: {kind}\n    rules: [login_fail]\n    group-by: [c-ip]\n"
                "    timespan: 1h\n    condition: {field: sc-status, gte: 400}\n"
            ),
        )
    )
    assert rule.kind == kind
    assert rule.value == "e.status_code"
    assert rule.having == f"{aggregate} >= 400"


def test_value_percentile() -> None:
    rule = only_rule(
        compile_yaml(
            LOGIN_FAIL,
            correlation(
                "    type: value_percentile\n    rules: [login_fail]\n    group-by: [c-ip]\n"
                "    timespan: 1h\n    condition: {field: sc-status, percentile: 95, gt: 450}\n"
            ),
        )
    )
    assert rule.having == "percentile_cont(0.95) WITHIN GROUP (ORDER BY val) > 450"


def test_value_sum_needs_a_numeric_field() -> None:
    compiled = compile_yaml(
        LOGIN_FAIL,
        correlation(
            "    type: value_sum\n    rules: [login_fail]\n    group-by: [c-ip]\n"
            "    timespan: 1h\n    condition: {field: c-uri, gt: 5}\n"
        ),
    )
    assert compiled.rules == []
    assert "a numeric field is needed" in errors_of(compiled)["corr"]


def test_temporal() -> None:
    rule = only_rule(
        compile_yaml(
            LOGIN_FAIL,
            LOGIN_OK,
            correlation(
                "    type: temporal\n    rules: [login_fail, login_ok]\n    group-by: [c-ip]\n"
                "    timespan: 10m\n"
            ),
        )
    )
    assert rule.kind == "temporal"
    assert rule.having == "bool_or(m0) AND bool_or(m1)"
    assert not rule.ordered
    assert rule.threshold == 2
    query = rule.query()
    assert ") AS m0," in query and ") AS m1" in query
    assert "NULL::jsonb AS ordered_times" in query


def test_temporal_ordered_of_two_rules_is_checked_in_sql() -> None:
    rule = only_rule(
        compile_yaml(
            LOGIN_FAIL,
            LOGIN_OK,
            correlation(
                "    type: temporal_ordered\n    rules: [login_fail, login_ok]\n"
                "    group-by: [c-ip]\n    timespan: 10m\n"
            ),
        )
    )
    assert rule.kind == "temporal_ordered"
    assert [r.min_count for r in rule.refs] == [1, 1]
    # the first rule's first event before the second rule's last one
    assert rule.having == (
        "bool_or(m0) AND bool_or(m1) AND "
        "min(event_time) FILTER (WHERE m0) < max(event_time) FILTER (WHERE m1)"
    )
    assert not rule.ordered  # nothing left to check in Python
    assert "NULL::jsonb AS ordered_times" in rule.query()


def test_temporal_ordered_of_three_rules_is_checked_in_python() -> None:
    rule = only_rule(
        compile_yaml(
            SQLI,
            LOGIN_FAIL,
            LOGIN_OK,
            correlation(
                "    type: temporal_ordered\n    rules: [sqli, login_fail, login_ok]\n"
                "    group-by: [c-ip]\n    timespan: 10m\n"
            ),
        )
    )
    assert rule.having == "bool_or(m0) AND bool_or(m1) AND bool_or(m2)"
    assert rule.ordered  # on the window's event times (ordered_match)
    query = rule.query()
    for i in range(3):
        assert f"FILTER (WHERE m{i}))" in query
    assert "NULL::jsonb AS ordered_times" not in query


def test_aliases_group_each_rule_by_its_own_field() -> None:
    rule = only_rule(
        compile_yaml(
            LOGIN_FAIL,
            LOGIN_OK,
            correlation(
                "    type: temporal\n    rules: [login_fail, login_ok]\n"
                "    group-by: [who]\n    timespan: 10m\n"
                "    aliases:\n        who:\n            login_fail: c-ip\n"
                "            login_ok: c-useragent\n"
            ),
        )
    )
    assert rule.group_fields == ("who",)
    fail, ok = (r.predicate for r in rule.refs)
    assert rule.group_key == (
        f"coalesce(CASE WHEN ({fail}) THEN host(e.client_ip) WHEN ({ok}) THEN e.user_agent END, '')"
    )
    assert rule.ip_field is None


@pytest.mark.parametrize("with_rules", [True, False], ids=["rules-listed", "rules-from-condition"])
def test_extended_temporal_condition(with_rules: bool) -> None:
    rules = "    rules: [login_fail, login_ok]\n" if with_rules else ""
    compiled = compile_yaml(
        LOGIN_FAIL,
        LOGIN_OK,
        correlation(
            f"    type: temporal\n{rules}    group-by: [c-ip]\n    timespan: 10m\n"
            "    condition: login_fail and not login_ok\n"
        ),
    )
    rule = only_rule(compiled)  # both referenced rules stay quiet
    assert [r.name for r in rule.refs] == ["login_fail", "login_ok"]
    assert rule.having == "(bool_or(m0) AND NOT coalesce(bool_or(m1), false))"
    assert rule.techniques == ("T1110",)


def test_extended_condition_with_or() -> None:
    rule = only_rule(
        compile_yaml(
            SQLI,
            LOGIN_FAIL,
            LOGIN_OK,
            correlation(
                "    type: temporal\n    group-by: [c-ip]\n    timespan: 10m\n"
                "    condition: (sqli or login_fail) and login_ok\n"
            ),
        )
    )
    assert rule.having == "((bool_or(m0) OR bool_or(m1)) AND bool_or(m2))"


def test_extended_condition_is_not_ordered() -> None:
    compiled = compile_yaml(
        LOGIN_FAIL,
        LOGIN_OK,
        correlation(
            "    type: temporal_ordered\n    group-by: [c-ip]\n    timespan: 10m\n"
            "    condition: login_fail and login_ok\n"
        ),
    )
    assert compiled.rules == []
    assert "extended condition" in errors_of(compiled)["corr"]


def nested(inner: str, outer_span: str = "10m", outer_group: str = "[c-ip]") -> Compiled:
    return compile_yaml(
        LOGIN_FAIL,
        LOGIN_OK,
        correlation(inner, name="many_fails"),
        correlation(
            "    type: temporal_ordered\n    rules: [many_fails, login_ok]\n"
            f"    group-by: {outer_group}\n    timespan: {outer_span}\n",
            name="brute_then_success",
        ),
    )


def test_nested_event_count_in_temporal_ordered() -> None:
    compiled = nested(
        "    type: event_count\n    rules: [login_fail]\n    group-by: [c-ip]\n"
        "    timespan: 5m\n    condition: {gt: 9}\n"
    )
    rule = only_rule(compiled)
    assert rule.name == "brute_then_success"
    assert [(r.name, r.min_count) for r in rule.refs] == [("many_fails", 10), ("login_ok", 1)]
    # the nested rule fires at its 10th event, before the second rule's last one
    assert rule.having == (
        "count(*) FILTER (WHERE m0) >= 10 AND bool_or(m1) AND "
        "(array_agg(event_time ORDER BY event_time) FILTER (WHERE m0))[10] "
        "< max(event_time) FILTER (WHERE m1)"
    )
    assert not rule.ordered
    assert "401" in rule.refs[0].predicate  # the inner rule's detection


def test_nested_event_count_second_in_temporal_ordered_is_checked_in_python() -> None:
    """Success then many failures: all the failures counted must follow the success, which
    comparing with the last failure does not say (times 0, 0.5, 2 around a success at 1)."""
    compiled = compile_yaml(
        LOGIN_FAIL,
        LOGIN_OK,
        correlation(
            "    type: event_count\n    rules: [login_fail]\n    group-by: [c-ip]\n"
            "    timespan: 5m\n    condition: {gte: 3}\n",
            name="many_fails",
        ),
        correlation(
            "    type: temporal_ordered\n    rules: [login_ok, many_fails]\n"
            "    group-by: [c-ip]\n    timespan: 10m\n",
            name="success_then_fails",
        ),
    )
    rule = only_rule(compiled)
    assert [r.min_count for r in rule.refs] == [1, 3]
    assert rule.having == "bool_or(m0) AND count(*) FILTER (WHERE m1) >= 3"
    assert rule.ordered
    assert not ordered_match([[1.0], [0.0, 0.5, 2.0]], [1, 3])
    assert ordered_match([[1.0], [2.0, 3.0, 4.0]], [1, 3])


@pytest.mark.parametrize(
    ("inner", "outer_span", "outer_group", "reason"),
    [
        (
            "    type: value_count\n    rules: [login_fail]\n    group-by: [c-ip]\n"
            "    timespan: 5m\n    condition: {field: cs-host, gte: 3}\n",
            "10m",
            "[c-ip]",
            "only event_count with gte/gt can be nested",
        ),
        (
            "    type: event_count\n    rules: [login_fail]\n    group-by: [c-ip]\n"
            "    timespan: 5m\n    condition: {lt: 3}\n",
            "10m",
            "[c-ip]",
            "only event_count with gte/gt can be nested",
        ),
        (
            "    type: event_count\n    rules: [login_fail]\n    group-by: [c-ip]\n"
            "    timespan: 1h\n    condition: {gte: 3}\n",
            "10m",
            "[c-ip]",
            "longer than the outer 10m",
        ),
        (
            "    type: event_count\n    rules: [login_fail]\n    group-by: [cs-host]\n"
            "    timespan: 5m\n    condition: {gte: 3}\n",
            "10m",
            "[c-ip]",
            "they must group alike",
        ),
    ],
    ids=["value_count", "lt", "longer-timespan", "other-group"],
)
def test_nested_correlation_rejected_with_a_reason(
    inner: str, outer_span: str, outer_group: str, reason: str
) -> None:
    compiled = nested(inner, outer_span, outer_group)
    assert "brute_then_success" not in {r.name for r in compiled.rules}
    assert reason in errors_of(compiled)["brute_then_success"]


def test_correlation_of_a_rule_that_failed_names_it() -> None:
    compiled = compile_yaml(
        "title: referer\nname: referer\nlogsource: {category: webserver}\n"
        "detection: {sel: {cs-referer: evil}, condition: sel}",
        correlation(
            "    type: event_count\n    rules: [referer]\n    group-by: [c-ip]\n"
            "    timespan: 5m\n    condition: {gte: 2}\n"
        ),
    )
    assert compiled.rules == []
    errors = errors_of(compiled)
    assert "cs-referer" in errors["referer"]
    assert errors["corr"] == "referenced rule 'referer' did not compile"


def test_query_doubles_percent_and_leaves_no_placeholder() -> None:
    rule = only_rule(compile_yaml(ADMIN))
    # the rule's literal % and _ are escaped LIKE characters in the predicate...
    assert "'%/admin\\%%'" in rule.predicate
    assert "'shop\\_%'" in rule.predicate
    query = rule.query()
    # ...and every % of the compiled SQL is doubled for psycopg
    assert "'%%/admin\\%%%%'" in query
    assert "'shop\\_%%'" in query
    assert "%" not in re.sub(r"%%|%\(\w+\)s", "", query)
    assert not re.search(r"\{\w+\}", query)
    for param in ("span_starts", "span_ends", "span_groups", "lo", "hi"):
        assert f"%({param})s" in query
        assert f"%({param})s" in rule.query(totals=True)
