"""Alert routes (pure): validation with one line per problem naming file, route and field;
the one-variable configuration; matching, grouping, silences, the exactly-once policy,
backoff and the payloads' documented shapes."""

import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from soc_platform.alerts import payloads, policy
from soc_platform.alerts.routes import (
    Match,
    Route,
    host_criticality,
    matches,
    parse_routes,
    source_net,
    targets,
)
from soc_platform.alerts.silences import parse_matchers, silence_matches
from soc_platform.correlation.config import ConfigFileError
from soc_platform.errors import ConfigurationError
from soc_platform.redact import redact_text
from soc_platform.settings import load_settings

GOOD = """
destinations:
  hook: {type: webhook, url_env: HOOK_URL, secret_env: HOOK_SECRET}
  pd: {type: pagerduty, routing_key_env: PD_KEY}
routes:
  - name: crit
    match: {severity: critical, techniques: [T1190], tactics: [Initial-Access]}
    destinations: [pd, hook]
    repeat_interval: 4h
  - name: sqli
    match: {severity: medium, rules: [waf-sqli-burst], host_criticality: high}
    destinations: [hook]
    group_by: [rule]
"""

INC = {
    "id": "i1",
    "rule": "waf-sqli-burst",
    "severity": "critical",
    "client_ip": "198.51.100.77",
    "attack_tactics": ["initial-access"],
    "attack_techniques": ["T1190.001"],
    "score_reasons": ["rule level high: 65", "target criticality critical: +15"],
    "status": "open",
}


def test_a_valid_file_parses() -> None:
    routes, dests = parse_routes(GOOD, "routes.yaml")
    assert [r.name for r in routes] == ["crit", "sqli"]
    assert routes[0].repeat_interval == timedelta(hours=4)
    assert routes[0].match.tactics == ("initial-access",)
    assert dests["pd"].routing_key_env == "PD_KEY"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD.replace("severity: critical", "severity: crit"),
            "alert routes routes.yaml: route 'crit'.match.severity: must be one of "
            "informational, low, medium, high, critical, got 'crit'; did you mean 'critical'?",
        ),
        (
            GOOD.replace("[pd, hook]", "[pd, hok]"),
            "alert routes routes.yaml: route 'crit'.destinations: unknown destination 'hok'; "
            "did you mean 'hook'?",
        ),
        (
            GOOD.replace("type: pagerduty, routing_key_env: PD_KEY", "type: pagerduty"),
            "alert routes routes.yaml: destinations.pd.routing_key_env: is required",
        ),
        (
            GOOD.replace("url_env: HOOK_URL", "url: https://hooks.example/x"),
            "alert routes routes.yaml: 2 problems:",
        ),
        (
            GOOD.replace("repeat_interval: 4h", "repeat_interval: soon"),
            "alert routes routes.yaml: route 'sqli'",
        ),
        (
            GOOD.replace("group_by: [rule]", "group_by: [rul]"),
            "alert routes routes.yaml: route 'sqli'.group_by: must be among",
        ),
        (
            GOOD.replace(
                "  pd: {type: pagerduty, routing_key_env: PD_KEY}",
                "  pd: {type: pagerduty, routing_key_env: PD_KEY}\n"
                "  mail: {type: email, host: smtp.example, from: soc@example, to: [a@example],"
                " username: soc, password_env: SMTP_PASSWORD}",
            ),
            "alert routes routes.yaml: destinations.mail.password_env: needs starttls: true",
        ),
        ("routes: []", "alert routes routes.yaml: routes: at least one route is needed"),
        ("a: [", "alert routes routes.yaml: invalid YAML"),
    ],
)
def test_problems_name_the_file_route_and_field(text: str, message: str) -> None:
    with pytest.raises(ConfigFileError) as info:
        parse_routes(text, "routes.yaml")
    if "repeat_interval: soon" in text:  # the first route carries it
        message = "alert routes routes.yaml: route 'crit'.repeat_interval: must be a duration"
    assert str(info.value).startswith(message), str(info.value)


def test_settings_resolve_secrets_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(GOOD)
    env = {
        "SOC_ALERT_ROUTES": str(path),
        "HOOK_URL": "https://hooks.example/T0K3NPATH",
        "HOOK_SECRET": "hmac-secret",
        "PD_KEY": "pd-routing-key",
    }
    settings = load_settings(env)
    assert settings.alerts is not None
    assert "hmac-secret" not in repr(settings.alerts)
    assert "pd-routing-key" not in repr(settings)
    assert {"hmac-secret", "pd-routing-key", "https://hooks.example/T0K3NPATH"} <= set(
        settings.secrets
    )
    assert redact_text("POST failed: /T0K3NPATH 500", settings.secrets) == "POST failed: *** 500"
    missing = {k: v for k, v in env.items() if k != "PD_KEY"}
    with pytest.raises(ConfigurationError) as info:
        load_settings(missing)
    assert str(info.value) == (
        f"alert routes {path}: destination 'pd' names PD_KEY, which is not set "
        "(export it, or remove the destination)"
    )
    with pytest.raises(
        ConfigurationError, match=re.escape("SOC_ALERT_ROUTES='/nope.yaml': no such file")
    ):
        load_settings({"SOC_ALERT_ROUTES": "/nope.yaml"})


def test_one_variable_sends_high_and_above_to_the_webhook() -> None:
    assert load_settings({}).alerts is None
    config = load_settings({"SOC_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/h"}).alerts
    assert config is not None
    [route] = config.routes
    assert route.match.severity == "high" and route.destinations == ("webhook",)
    assert config.destinations["webhook"].secret_env is None
    signed = load_settings(
        {"SOC_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/h", "SOC_ALERT_WEBHOOK_SECRET": "k"}
    ).alerts
    assert signed is not None and signed.destinations["webhook"].secret_env
    with pytest.raises(ConfigurationError, match="must be an http:// or https:// URL"):
        load_settings({"SOC_ALERT_WEBHOOK_URL": "hooks.example/x"})


def test_matching_and_grouping() -> None:
    routes, _ = parse_routes(GOOD)
    assert host_criticality(INC) == "critical"
    found = targets(routes, INC)
    # hook is reached by both routes: once, with the first route's grouping
    assert [(t.route, t.destination) for t in found] == [("crit", "pd"), ("crit", "hook")]
    assert found[1].group_key == "rule=waf-sqli-burst,source_net=198.51.100.0/24"
    assert targets(routes, {**INC, "severity": "high"})[0].route == "sqli"
    assert targets(routes, {**INC, "severity": "high", "score_reasons": []}) == []
    assert not matches(Match(techniques=("T1059",)), INC)
    assert matches(Match(tactics=("initial-access",)), INC)
    assert source_net("2001:db8::1") == "2001:db8::/64"


def test_silence_matchers() -> None:
    m = parse_matchers(["client_ip=198.51.100.0/24", "rule=waf-sqli-burst"])
    assert silence_matches(m, INC, "crit", "pd")
    assert not silence_matches(m, {**INC, "client_ip": "203.0.113.1"}, "crit", "pd")
    assert silence_matches({"technique": "T1190"}, INC, "crit", "pd")
    assert silence_matches({"destination": "pd"}, INC, "crit", "pd")
    assert not silence_matches({"destination": "pd"}, INC, "crit", "hook")
    for bad, why in [
        (["rule"], "must be NAME=VALUE"),
        (["colour=red"], "is not one of"),
        (["client_ip=nope"], "not an address or network"),
    ]:
        with pytest.raises(ConfigurationError, match=why):
            parse_matchers(bad)


def test_policy_exactly_once_rules() -> None:
    route = Route("r", Match(), ("hook",), repeat_interval=timedelta(hours=1))
    [target] = targets([route], INC)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    [first] = policy.trigger_intents(INC, [target], [], now)
    assert (first.epoch, first.dedup_key) == (0, "i1")
    prior = policy.Prior("hook", "critical", 0, now, "i0")  # carried over from i0
    assert policy.trigger_intents(INC, [target], [prior], now + timedelta(minutes=59)) == []
    [again] = policy.trigger_intents(INC, [target], [prior], now + timedelta(hours=1))
    assert (again.epoch, again.dedup_key) == (1, "i0")
    low = policy.Prior("hook", "medium", 0, now, "i1")
    [rise] = policy.trigger_intents(INC, [target], [low], now)
    assert (rise.severity, rise.epoch) == ("critical", 0)
    # resolved, then reopened by its group's new run: notified again, same dedup key
    resolved = policy.Prior("hook", "critical", 0, now + timedelta(minutes=5), "i0", "resolve")
    [reopened] = policy.trigger_intents(
        INC, [target], [prior, resolved], now + timedelta(minutes=9)
    )
    assert (reopened.epoch, reopened.dedup_key, reopened.event) == (1, "i0", "trigger")
    for quiet in ("suppressed", "resolved", "false_positive"):
        assert policy.trigger_intents({**INC, "status": quiet}, [target], [], now) == []


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    rng = random.Random(1)
    delays = [policy.backoff(n, rng) for n in range(1, 12)]
    for n, d in enumerate(delays, start=1):
        full = min(policy.BACKOFF_CAP, policy.BACKOFF_BASE * 2 ** (n - 1))
        assert full / 2 <= d <= full
    assert delays[-1] <= policy.BACKOFF_CAP


def test_payloads_follow_the_documented_shapes() -> None:
    n = payloads.Notification(7, "trigger", "i1", "crit", "pd", "g", INC)
    pd = json.loads(payloads.pagerduty_body(n, "key", "https://soc.example"))
    assert pd["event_action"] == "trigger" and pd["dedup_key"] == "i1"
    assert pd["payload"]["severity"] == "critical"
    assert {"summary", "source", "severity"} <= set(pd["payload"])
    resolve = payloads.Notification(8, "resolve", "i1", "crit", "pd", "g", INC)
    assert json.loads(payloads.pagerduty_body(resolve, "key", "x")) == {
        "routing_key": "key",
        "event_action": "resolve",
        "dedup_key": "i1",
    }
    slack = json.loads(payloads.slack_body([n], "https://soc.example"))
    assert "<https://soc.example/incidents/i1|" in slack["blocks"][1]["text"]["text"]
    teams = json.loads(payloads.teams_body([n], "https://soc.example"))
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["actions"][0]["url"] == "https://soc.example/incidents/i1"
    body = payloads.webhook_body([n], "https://soc.example")
    assert payloads.signature("k", body).startswith("sha256=")
    assert len(payloads.signature("k", body)) == len("sha256=") + 64
