"""The search syntax parser (pure): filters, aliases, errors, SQL and Meilisearch forms."""

from datetime import UTC, datetime, timedelta

import pytest

from soc_platform.search.query import QuerySyntaxError, parse_query

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_documented_example() -> None:
    q = parse_query(
        "status:open severity:>=high ip:192.168.0.0/16 rule:waf-sqli-burst technique:T1190 "
        "since:24h sqlmap login"
    )
    assert q.statuses == ("open",)
    assert q.severities == ("high", "critical")
    assert q.networks == ("192.168.0.0/16",)
    assert q.rules == ("waf-sqli-burst",)
    assert q.techniques == ("T1190",)
    assert q.since == timedelta(hours=24)
    assert q.terms == ("sqlmap", "login")
    assert q.text == "sqlmap login"


def test_closed_alias_and_alternatives() -> None:
    assert parse_query("status:closed").statuses == ("resolved", "false_positive")
    assert parse_query("status:open,acknowledged").statuses == ("open", "acknowledged")
    assert parse_query("severity:critical").severities == ("critical",)
    assert parse_query("severity:<medium").severities == ("informational", "low")


def test_ip_prefixes_and_free_text_colons() -> None:
    assert parse_query("ip:192.168").networks == ("192.168.0.0/16",)
    assert parse_query("ip:10.0.0.7").networks == ("10.0.0.7/32",)
    # a URL or an IPv6 address in free text is not a filter
    assert parse_query("http://shop.example.com/login").terms == ("http://shop.example.com/login",)
    assert parse_query("asn:AS12345 country:ru tactic:Initial-Access").asns == (12345,)
    q = parse_query("asn:AS12345 country:ru tactic:Initial-Access host:Shop.Example.com")
    assert q.countries == ("RU",)
    assert q.tactics == ("initial-access",)
    assert q.hosts == ("shop.example.com",)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("colour:red", "unknown filter 'colour'"),
        ("status:closedd", "status 'closedd' unknown"),
        ("severity:>=hgih", "severity 'hgih' unknown"),
        ("ip:300.1.2.3", "is not an address"),
        ("since:yesterday", "is not a duration"),
        ("technique:1190", "not an ATT&CK id"),
        ("asn:big", "not an AS number"),
        ("rule:", "needs a value"),
        # values that crashed (OverflowError; a bigint PostgreSQL refuses) or matched
        # every incident (no level above critical gave an empty, so absent, filter)
        ("since:999999999d", "is longer than 36500 days"),
        ("asn:99999999999999999999", "not an AS number"),
        ("severity:>critical", "matches no level"),
        ("severity:<informational", "matches no level"),
    ],
)
def test_errors_are_one_line(text: str, needle: str) -> None:
    with pytest.raises(QuerySyntaxError) as exc:
        parse_query(text)
    message = str(exc.value)
    assert needle in message
    assert "\n" not in message


def test_sql_params_and_meili_filter() -> None:
    q = parse_query("status:open severity:>=high ip:192.168 asn:7 since:1h sqli")
    params = q.sql_params(NOW)
    assert params["statuses"] == ["open"]
    assert params["networks"] == ["192.168.0.0/16"]
    assert params["rules"] is None
    assert params["since"] == NOW - timedelta(hours=1)
    flt = q.meili_filter(NOW)
    assert flt == (
        'status IN ["open"] AND severity IN ["high", "critical"] AND '
        'source_prefixes IN ["192.168.0.0/16"] AND asns IN [7] AND '
        f"end_time >= {int((NOW - timedelta(hours=1)).timestamp())}"
    )
    assert parse_query("just words").meili_filter(NOW) is None
    assert parse_query("ip:10.0.0.7,10.0.0.8").sql_params(NOW)["addresses"] == [
        "10.0.0.7",
        "10.0.0.8",
    ]
    assert parse_query("ip:10.0.0.7 ip:10.0").sql_params(NOW)["addresses"] is None


def test_passwords_roles_and_tokens() -> None:
    from soc_platform.ui.auth import (
        AuthError,
        allowed,
        check_name,
        check_password,
        check_role,
        hash_password,
        token_hash,
        verify_password,
    )

    with pytest.raises(AuthError, match="reserved for the incident engine"):
        check_name("system")
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$") and "correct" not in stored
    assert hash_password("correct horse") != stored  # a salt per hash
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert not verify_password("correct horse", "garbage")
    with pytest.raises(AuthError, match="too short"):
        check_password("short")
    with pytest.raises(AuthError, match="role 'root' unknown"):
        check_role("root")
    assert allowed("responder", "change") and not allowed("viewer", "change")
    assert allowed("admin", "users") and not allowed("responder", "users")
    assert len(token_hash("t")) == 64
