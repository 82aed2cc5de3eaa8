"""Unit tests for incident building (soc_platform.correlation.incidents)."""

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soc_platform.correlation.assets_map import AssetCriticality
from soc_platform.correlation.config import DetectionConfig, parse_detection_config
from soc_platform.correlation.detection import default_detection
from soc_platform.correlation.incidents import (
    Context,
    build_incident,
    describe,
    group_values,
    incident_id,
    search_text,
)
from soc_platform.models import Incident

W = datetime(2024, 5, 1, 10, 5, tzinfo=UTC)
SQLI_BURST = default_detection().rules.rule("waf-sqli-burst")
CTX = Context(DetectionConfig(rules={}), AssetCriticality())
IP = {"c-ip": "192.168.4.20"}


def build(m: dict[str, Any], context: Context = CTX) -> Incident:
    return build_incident(SQLI_BURST, m, window_end=W + timedelta(minutes=5), context=context)


def match(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "group_key": "192.168.4.20",
        "sources": ["192.168.4.20"],
        "source_count": 1,
        "target_count": 1,
        "window_start": W,
        "start_time": W + timedelta(seconds=12),
        "end_time": W + timedelta(minutes=2),
        "event_count": 12,
        "blocked_count": 12,
        "rule_ids": ["942100", "942190"],
        "targets": ["shop.example.com/products"],
    }
    base.update(overrides)
    return base


# --------------------------------------------------------------------------------------
# rules
# --------------------------------------------------------------------------------------


def test_sqli_burst_rule_definition() -> None:
    """The seed's rule, now a Sigma correlation rule: same threshold, window and hop."""
    assert SQLI_BURST.kind == "event_count"
    assert SQLI_BURST.threshold == 10
    assert SQLI_BURST.timespan == timedelta(minutes=5)
    assert SQLI_BURST.hop == timedelta(minutes=1)
    assert SQLI_BURST.group_fields == ("c-ip",)
    # the lookback must reach at least one whole window back, or late events are missed
    assert SQLI_BURST.lookback >= SQLI_BURST.timespan
    assert SQLI_BURST.incident_type == "sql_injection"
    assert "T1190" in SQLI_BURST.techniques
    names = [r.name for r in default_detection().rules.rules]
    assert len(set(names)) == len(names)


# --------------------------------------------------------------------------------------
# incident_id
# --------------------------------------------------------------------------------------


def test_incident_id_is_deterministic_and_shaped() -> None:
    a = incident_id("waf-sqli-burst", "192.168.4.20", W)
    assert a == incident_id("waf-sqli-burst", "192.168.4.20", W)
    assert re.fullmatch(r"inc-[0-9a-f]{20}", a)


def test_incident_id_differs_per_rule_group_and_window() -> None:
    ids = {
        incident_id("waf-sqli-burst", "192.168.4.20", W),
        incident_id("waf-xss-burst", "192.168.4.20", W),
        incident_id("waf-sqli-burst", "192.168.4.21", W),
        incident_id("waf-sqli-burst", "192.168.4.20", W + timedelta(minutes=5)),
        # field separators prevent ("a", "bc") and ("ab", "c") from colliding
        incident_id("a", "bc", W),
        incident_id("ab", "c", W),
    }
    assert len(ids) == 6


# rule ids and client IPs never hold NUL, the separator of the hashed key
NO_NUL = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)


@settings(max_examples=60, deadline=None, database=None)
@given(
    NO_NUL,
    NO_NUL,
    st.datetimes(timezones=st.just(UTC), min_value=datetime(1971, 1, 1)),
    NO_NUL,
    NO_NUL,
)
def test_incident_id_injective_on_inputs(r1: str, g1: str, w: datetime, r2: str, g2: str) -> None:
    same = (r1, g1) == (r2, g2)
    assert (incident_id(r1, g1, w) == incident_id(r2, g2, w)) == same


def test_incident_id_depends_on_the_instant_not_its_zone() -> None:
    paris = W.astimezone(ZoneInfo("Europe/Paris"))
    assert paris == W
    assert incident_id("waf-sqli-burst", "192.168.4.20", paris) == incident_id(
        "waf-sqli-burst", "192.168.4.20", W
    )


# --------------------------------------------------------------------------------------
# describe / build_incident / search_text
# --------------------------------------------------------------------------------------


def test_describe_all_blocked() -> None:
    text = describe(SQLI_BURST, match(), IP)
    assert text == (
        "SQL injection burst: 12 SQL injection attempts from 192.168.4.20 within 2 minutes "
        "(all 12 blocked) against shop.example.com/products"
    )


def test_describe_partly_blocked_and_many_targets() -> None:
    targets = [f"shop.example.com/p{i}" for i in range(5)]
    text = describe(SQLI_BURST, match(event_count=15, blocked_count=11, targets=targets), IP)
    assert "(11 blocked, 4 not blocked)" in text
    assert "shop.example.com/p0, shop.example.com/p1, shop.example.com/p2 and 2 more" in text
    assert "p3" not in text


@pytest.mark.parametrize("targets", [None, []])
def test_describe_without_targets(targets: list[str] | None) -> None:
    text = describe(SQLI_BURST, match(targets=targets, blocked_count=0), IP)
    assert text.endswith("against unknown targets")
    assert "(0 blocked, 12 not blocked)" in text


def test_describe_uses_rule_window_and_wording() -> None:
    rule = replace(SQLI_BURST, title="Probe", noun="matching requests")
    text = describe(rule, match(event_count=3, blocked_count=3), IP)
    assert text.startswith(
        "Probe: 3 matching requests from 192.168.4.20 within 2 minutes (all 3 blocked)"
    )


def test_describe_a_group_without_an_ip_names_its_sources_and_scope() -> None:
    rule = replace(SQLI_BURST, group_fields=("cs-host", "cs-uri-stem"), ip_field=None)
    group = group_values(rule, '["shop.example.com", "/login"]')
    assert group == {"cs-host": "shop.example.com", "cs-uri-stem": "/login"}
    m = match(sources=["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"], source_count=25)
    text = describe(rule, m, group)
    assert "from 25 sources (192.0.2.1, 192.0.2.2, 192.0.2.3 and others)" in text
    assert text.endswith("[cs-host=shop.example.com cs-uri-stem=/login]")


def test_build_incident_copies_match_fields() -> None:
    inc = build(match(rule_ids=[942100, "942190"], event_count=12.0))
    assert isinstance(inc, Incident)
    assert inc.id == incident_id("waf-sqli-burst", "192.168.4.20", W)
    assert inc.type == "sql_injection"
    assert inc.rule == "waf-sqli-burst"
    # rule level high (65), 1.2x the threshold (+2), one target, all blocked (-10): medium
    assert (inc.severity, inc.score) == ("medium", 57)
    assert "all 12 requests blocked by the WAF: -10" in inc.score_reasons
    assert inc.client_ip == "192.168.4.20"
    assert inc.group == IP and inc.group_key == "192.168.4.20"
    assert inc.status == "open" and inc.suppression == ""
    assert inc.targets == ["shop.example.com/products"]
    assert inc.start_time == W + timedelta(seconds=12)
    assert inc.end_time == W + timedelta(minutes=2)
    assert inc.window_start == W
    assert inc.event_count == 12 and isinstance(inc.event_count, int)
    assert inc.blocked_count == 12
    assert inc.rule_ids == ["942100", "942190"]  # stringified
    assert inc.attack_techniques == ["T1190"]
    assert inc.description == describe(SQLI_BURST, match(), IP)


def test_build_incident_tolerates_null_lists() -> None:
    inc = build(match(rule_ids=None, targets=None))
    assert inc.rule_ids == []
    assert inc.targets == []


def test_build_incident_id_is_stable_across_reevaluation() -> None:
    # A window re-evaluated later with more events keeps its id (upsert, not a new incident).
    first = build(match(event_count=10, blocked_count=10))
    later = build(match(event_count=25, blocked_count=20))
    assert first.id == later.id
    assert first.description != later.description


def test_search_text_holds_what_analysts_search_for() -> None:
    inc = build(match())
    text = search_text(inc)
    for needle in (
        "blocked",
        "SQL injection",
        "sql injection",  # the type, de-underscored
        "192.168.4.20",
        "waf-sqli-burst",
        "medium",
        "shop.example.com/products",
        "942100",
        "942190",
        "T1190",
    ):
        assert needle in text
    assert text.startswith(inc.description)


def test_incident_to_document() -> None:
    inc = build(match())
    doc = inc.to_document()
    assert doc["id"] == inc.id
    assert doc["start_time"] == int((W + timedelta(seconds=12)).timestamp())
    assert doc["end_time_iso"] == (W + timedelta(minutes=2)).isoformat()
    assert doc["targets"] == inc.targets and doc["targets"] is not inc.targets
    assert doc["attack_techniques"] == ["T1190"]


def test_durations_read_naturally_and_round_up() -> None:
    from soc_platform.correlation.incidents import _duration

    assert [_duration(s) for s in (0, 1, 40, 60, 61, 885)] == [
        "1 second", "1 second", "40 seconds", "1 minute", "2 minutes", "15 minutes",
    ]  # fmt: skip


def test_allow_listed_source_is_kept_as_suppressed_with_the_reason() -> None:
    config = parse_detection_config(
        "allowlist:\n  - name: pentest\n    networks: [192.168.4.0/24]\n"
        "    rules: [waf-sqli-burst]\n"
    )
    inc = build(match(), Context(config, AssetCriticality()))
    assert inc.status == "suppressed"
    assert inc.suppression == "allow-list: pentest"
    other = build(match(group_key="10.0.0.1", sources=["10.0.0.1"]), Context(config, CTX.assets))
    assert other.status == "open"


def test_severity_rises_with_asset_criticality_and_requests_let_through() -> None:
    from soc_platform.correlation.assets_map import parse_asset_criticality

    assets = parse_asset_criticality("shop.example.com: critical\n")
    base = build(match())
    critical = build(match(), Context(CTX.config, assets))
    leaked = build(match(blocked_count=9), Context(CTX.config, assets))
    assert base.score < critical.score < leaked.score
    assert leaked.severity in ("high", "critical")
    assert any("criticality critical" in r for r in critical.score_reasons)
