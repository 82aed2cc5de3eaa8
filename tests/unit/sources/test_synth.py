"""Unit tests for the synthetic traffic generator (soc_platform.sources.synth)."""

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soc_platform.correlation.detection import default_detection
from soc_platform.correlation.windows import window_start
from soc_platform.parsing import split_lines
from soc_platform.parsing.waf_json import parse
from soc_platform.sources.synth import Campaign, generate

SQLI_BURST = default_detection().rules.rule("waf-sqli-burst")

END = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SEED_FIELDS = {
    "timestamp", "client_ip", "host", "request_method", "request_uri", "status_code",
    "user_agent", "rule_id", "rule_msg", "rule_tags",
}  # fmt: skip


def ts(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))


def is_sqli(event: dict[str, Any]) -> bool:
    """The SQL-injection predicate of the Sigma rule waf-sqli-event, in Python."""
    rule = str(event["rule_id"]) if event["rule_id"] else ""
    return (
        re.fullmatch(r"942[0-9]{3}", rule) is not None
        or "attack-sqli" in event["rule_tags"]
        or "sql injection" in event["rule_msg"].lower()
    )


def sqli_burst_fires(events: list[dict[str, Any]]) -> set[str]:
    """Client IPs with >= threshold SQL-injection events in one epoch-aligned window."""
    counts = Counter(
        (e["client_ip"], window_start(ts(e), SQLI_BURST.timespan)) for e in events if is_sqli(e)
    )
    return {ip for (ip, _), n in counts.items() if n >= SQLI_BURST.threshold}


def campaign(campaigns: list[Campaign], name: str) -> Campaign:
    found = [c for c in campaigns if c.name == name]
    assert len(found) == 1, [c.name for c in campaigns]
    return found[0]


@pytest.fixture(scope="module")
def traffic() -> tuple[list[dict[str, Any]], list[Campaign]]:
    return generate(events=3000, minutes=60, seed=7, end=END)


def test_same_seed_same_output() -> None:
    a = generate(events=800, minutes=30, seed=42, end=END)
    b = generate(events=800, minutes=30, seed=42, end=END)
    assert a == b
    assert json.dumps(a[0]) == json.dumps(b[0])


def test_different_seed_different_output() -> None:
    a, ca = generate(events=800, minutes=30, seed=1, end=END)
    b, cb = generate(events=800, minutes=30, seed=2, end=END)
    assert a != b
    assert ca != cb


def test_event_count(traffic: tuple[list[dict[str, Any]], list[Campaign]]) -> None:
    events, campaigns = traffic
    assert len(events) == 3000
    injected = sum(c.events for c in campaigns)
    # campaigns are always present, even when fewer events are asked for
    few, few_campaigns = generate(events=10, minutes=60, seed=7, end=END)
    assert len(few) == injected == sum(c.events for c in few_campaigns)


def test_events_are_seed_format_sorted_and_in_range(
    traffic: tuple[list[dict[str, Any]], list[Campaign]],
) -> None:
    events, _ = traffic
    times = [ts(e) for e in events]
    assert times == sorted(times)
    assert all(END - timedelta(minutes=60) <= t <= END for t in times)
    for e in events:
        assert set(e) == SEED_FIELDS
        assert e["timestamp"].endswith("Z")
        assert isinstance(e["status_code"], int) and 100 <= e["status_code"] <= 599
        assert isinstance(e["rule_id"], int)
        assert isinstance(e["rule_tags"], list) and all(isinstance(t, str) for t in e["rule_tags"])
        assert (e["rule_id"] == 0) == (e["rule_msg"] == "")


def test_every_generated_event_parses_cleanly(
    traffic: tuple[list[dict[str, Any]], list[Campaign]],
) -> None:
    events, _ = traffic
    data = "\n".join(json.dumps(e, separators=(",", ":")) for e in events).encode()
    result = parse(split_lines(data), "synth.jsonl", END)
    assert result.dead_letters.num_rows == 0, result.dead_letter_counts()
    assert result.events.num_rows == len(events)
    actions = Counter(result.events["action"].to_pylist())
    assert actions["allowed"] > actions["blocked"] > 0


def test_sqli_burst_campaign(traffic: tuple[list[dict[str, Any]], list[Campaign]]) -> None:
    events, campaigns = traffic
    burst = campaign(campaigns, "sqli-burst")
    assert burst.kind == "sql_injection"
    assert burst.expected_rule == "waf-sqli-burst"
    assert re.fullmatch(r"192\.168\.\d{1,3}\.\d{1,3}", burst.client_ip)
    mine = [e for e in events if e["client_ip"] == burst.client_ip]
    assert len(mine) == burst.events >= SQLI_BURST.threshold
    assert all(is_sqli(e) for e in mine)
    assert all(e["status_code"] >= 400 for e in mine)  # blocked
    first, last = min(map(ts, mine)), max(map(ts, mine))
    assert last - first <= SQLI_BURST.timespan
    assert burst.start == min(e["timestamp"] for e in mine)
    assert burst.end == max(e["timestamp"] for e in mine)


@pytest.mark.parametrize(
    ("name", "kind", "tag", "rule"),
    [
        ("sqli-slow-probe", "sql_injection", "attack-sqli", None),
        ("xss-probe", "xss", "attack-xss", "waf-xss-burst"),
        ("path-traversal-scan", "path_traversal", "attack-lfi", "waf-path-traversal"),
    ],
)
def test_decoy_campaigns_ground_truth(
    traffic: tuple[list[dict[str, Any]], list[Campaign]],
    name: str,
    kind: str,
    tag: str,
    rule: str | None,
) -> None:
    events, campaigns = traffic
    c = campaign(campaigns, name)
    assert c.kind == kind
    assert c.expected_rule == rule
    mine = [e for e in events if e["client_ip"] == c.client_ip and tag in e["rule_tags"]]
    assert len(mine) == c.events
    assert c.start == min(e["timestamp"] for e in mine)
    assert c.end == max(e["timestamp"] for e in mine)


def test_ground_truth_serialises(traffic: tuple[list[dict[str, Any]], list[Campaign]]) -> None:
    _, campaigns = traffic
    docs = json.loads(json.dumps([c.to_dict() for c in campaigns]))
    assert {d["name"] for d in docs} == {
        "sqli-burst", "sqli-slow-probe", "xss-probe", "path-traversal-scan",
    }  # fmt: skip
    assert all(
        set(d) == {"name", "kind", "client_ip", "start", "end", "events", "expected_rule"}
        for d in docs
    )


@settings(max_examples=15, deadline=None, database=None)
@given(st.integers(0, 2**32), st.integers(100, 2000), st.integers(30, 240))
def test_rule_fires_exactly_for_expected_campaigns(seed: int, n: int, minutes: int) -> None:
    events, campaigns = generate(events=n, minutes=minutes, seed=seed, end=END)
    expected = {c.client_ip for c in campaigns if c.expected_rule == SQLI_BURST.name}
    assert len(expected) == 1
    assert sqli_burst_fires(events) == expected


@pytest.mark.parametrize("seed", range(20))
def test_shortest_span_stays_within_start_and_end(seed: int) -> None:
    events, _ = generate(events=50, minutes=5, seed=seed, end=END)
    assert END - timedelta(minutes=5) <= min(ts(e) for e in events)
    assert max(ts(e) for e in events) <= END


def test_spans_too_short_for_the_campaigns_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 5"):
        generate(events=50, minutes=1, seed=7, end=END)
