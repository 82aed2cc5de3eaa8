"""Unit tests for incident building (soc_platform.correlation.incidents, .rules)."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soc_platform.correlation.incidents import build_incident, describe, incident_id, search_text
from soc_platform.correlation.rules import BUILTIN_RULES, SQLI_BURST, ThresholdRule
from soc_platform.models import Incident

W = datetime(2024, 5, 1, 10, 5, tzinfo=UTC)


def match(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "client_ip": "192.168.4.20",
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
    assert SQLI_BURST in BUILTIN_RULES
    assert SQLI_BURST.threshold == 10
    assert SQLI_BURST.window == timedelta(minutes=5)
    # the lookback must reach at least one whole window back, or late events are missed
    assert SQLI_BURST.lookback >= SQLI_BURST.window
    assert SQLI_BURST.incident_type == "sql_injection"
    assert "T1190" in SQLI_BURST.attack_techniques
    assert len({r.id for r in BUILTIN_RULES}) == len(BUILTIN_RULES)


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
    text = describe(SQLI_BURST, match())
    assert text == (
        "SQL injection burst: 12 SQL injection attempts from 192.168.4.20 within 2 minutes "
        "(all 12 blocked) against shop.example.com/products"
    )


def test_describe_partly_blocked_and_many_targets() -> None:
    targets = [f"shop.example.com/p{i}" for i in range(5)]
    text = describe(SQLI_BURST, match(event_count=15, blocked_count=11, targets=targets))
    assert "(11 blocked, 4 not blocked)" in text
    assert "shop.example.com/p0, shop.example.com/p1, shop.example.com/p2 and 2 more" in text
    assert "p3" not in text


@pytest.mark.parametrize("targets", [None, []])
def test_describe_without_targets(targets: list[str] | None) -> None:
    text = describe(SQLI_BURST, match(targets=targets, blocked_count=0))
    assert text.endswith("against unknown targets")
    assert "(0 blocked, 12 not blocked)" in text


def test_describe_uses_rule_window_and_wording() -> None:
    rule = ThresholdRule(
        id="r", title="Probe", incident_type="probe", query="q", threshold=3,
        window=timedelta(minutes=15), hop=timedelta(minutes=15), lookback=timedelta(minutes=30),
        severity="low",
    )  # fmt: skip
    text = describe(rule, match(event_count=3, blocked_count=3))
    assert text.startswith("Probe: 3 events from 192.168.4.20 within 2 minutes (all 3 blocked)")


def test_build_incident_copies_match_fields() -> None:
    inc = build_incident(SQLI_BURST, match(rule_ids=[942100, "942190"], event_count=12.0))
    assert isinstance(inc, Incident)
    assert inc.id == incident_id("waf-sqli-burst", "192.168.4.20", W)
    assert inc.type == "sql_injection"
    assert inc.rule == "waf-sqli-burst"
    assert inc.severity == "high"
    assert inc.client_ip == "192.168.4.20"
    assert inc.targets == ["shop.example.com/products"]
    assert inc.start_time == W + timedelta(seconds=12)
    assert inc.end_time == W + timedelta(minutes=2)
    assert inc.window_start == W
    assert inc.event_count == 12 and isinstance(inc.event_count, int)
    assert inc.blocked_count == 12
    assert inc.rule_ids == ["942100", "942190"]  # stringified
    assert inc.attack_techniques == ["T1190"]
    assert inc.description == describe(SQLI_BURST, match())


def test_build_incident_tolerates_null_lists() -> None:
    inc = build_incident(SQLI_BURST, match(rule_ids=None, targets=None))
    assert inc.rule_ids == []
    assert inc.targets == []


def test_build_incident_id_is_stable_across_reevaluation() -> None:
    # A window re-evaluated later with more events keeps its id (upsert, not a new incident).
    first = build_incident(SQLI_BURST, match(event_count=10, blocked_count=10))
    later = build_incident(SQLI_BURST, match(event_count=25, blocked_count=20))
    assert first.id == later.id
    assert first.description != later.description


def test_search_text_holds_what_analysts_search_for() -> None:
    inc = build_incident(SQLI_BURST, match())
    text = search_text(inc)
    for needle in (
        "blocked",
        "SQL injection",
        "sql injection",  # the type, de-underscored
        "192.168.4.20",
        "waf-sqli-burst",
        "high",
        "shop.example.com/products",
        "942100",
        "942190",
        "T1190",
    ):
        assert needle in text
    assert text.startswith(inc.description)


def test_incident_to_document() -> None:
    inc = build_incident(SQLI_BURST, match())
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
