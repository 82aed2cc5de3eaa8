"""The Sigma backend's condition simplification over fields WAF events do not record, and
the SQL shapes of its matching (pure: compiled SQL, no database; what the SQL matches is
checked on PostgreSQL in tests/integration/test_sigma_letter.py and the differential test).
"""

from pathlib import Path

import pytest

from soc_platform.correlation.ruleset import load_rule_set


def convert(detection: str) -> str:
    """The predicate of a one-rule set, or its conversion problem."""
    text = f"title: t\nname: t\nlogsource:\n    category: webserver\ndetection:\n{detection}\n"
    rule_set = load_rule_set(Path("inline"), texts=[("inline.yml", text)])
    if rule_set.problems:
        (problem,) = rule_set.problems
        return "refused: " + problem.message
    (rule,) = rule_set.rules
    return rule.predicate


UA = "    ua:\n        c-useragent|contains: 'sqlmap'\n"
REF = "    ref:\n        cs-referer|contains: 'evil'\n"


@pytest.mark.parametrize(
    ("detection", "expected"),
    [
        # x or false = x
        (UA + REF + "    condition: ua or ref", "sqlmap"),
        (UA + REF + "    condition: 1 of *", "sqlmap"),
        # not (not false) = false: a double negation keeps the branch out
        (UA + REF + "    condition: ua or not (not ref)", "sqlmap"),
        # (x and false) or y = y
        (UA + REF + "    sel:\n        c-uri: '/'\n    condition: (sel and ref) or ua", "sqlmap"),
        # a null test on an absent field under not: not true = false, a removed branch
        (UA + "    ref:\n        cs-referer: null\n    condition: ua or not ref", "sqlmap"),
    ],
)
def test_absent_branch_is_dropped(detection: str, expected: str) -> None:
    predicate = convert(detection)
    assert expected in predicate
    assert "referer" not in predicate.lower()
    assert "absent" not in predicate


@pytest.mark.parametrize(
    ("detection", "says"),
    [
        (UA + REF + "    condition: ua and ref", "can never match over WAF events: field "),
        (REF + "    condition: ref", "can never match"),
        (UA + REF + "    condition: ua and not ref", "is tested under 'not'"),
        (UA + REF + "    condition: not (ua or ref)", "is tested under 'not'"),
        (
            UA + "    ref:\n        cs-referer: null\n    condition: ua and ref",
            "must be absent",
        ),
        (
            UA + "    ref:\n        cs-referer|exists: false\n    condition: ua and ref",
            "must be absent",
        ),
        (
            "    sel:\n        c-uri|fieldref: cs-referer\n    condition: sel",
            "can never match",
        ),
    ],
)
def test_refused_where_the_constant_changes_the_meaning(detection: str, says: str) -> None:
    message = convert(detection)
    assert message.startswith("refused: ")
    assert says in message
    assert "cs-referer" in message or "Referer" in message


def test_values_on_one_field_share_one_lower_casing() -> None:
    predicate = convert(
        "    a:\n        c-useragent|contains:\n            - 'sqlmap'\n            - 'nikto'\n"
        "    b:\n        c-useragent|startswith: 'curl'\n    condition: a or b"
    )
    assert predicate.count("lower(e.user_agent COLLATE soc_fold)") == 1
    assert "LIKE ANY (ARRAY[" in predicate


def test_all_of_a_list_field_tests_elements_apart() -> None:
    predicate = convert("    sel:\n        rule_tags|contains|all: [a, b]\n    condition: sel")
    assert predicate.count("unnest(e.rule_tags)") == 2


def test_regex_is_translated_and_run_under_c() -> None:
    predicate = convert("    sel:\n        c-useragent|re: '\\bsqlmap\\b'\n    condition: sel")
    assert predicate == "((e.user_agent COLLATE \"C\") ~ '\\ysqlmap\\y')"


def test_ip_value_compares_as_an_address() -> None:
    assert convert("    sel:\n        c-ip: '2001:DB8:0:0::1'\n    condition: sel") == (
        "(e.client_ip = inet '2001:db8::1')"
    )
