"""Alerting against a real PostgreSQL and real receivers (HTTP servers, an SMTP server):
intents written with the incident change, delivered once, retried, rate limited, silenced,
resolved through the lifecycle; bodies checked against each destination's documented
schema."""

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import psycopg
import pytest

from soc_platform import sql
from soc_platform.alerts import outbox, policy, sender
from soc_platform.alerts.routes import AlertConfig
from soc_platform.correlation.detection import default_detection
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.incidents import engine
from soc_platform.incidents.lifecycle import Change, apply_change
from soc_platform.settings import load_settings
from tests.alertkit import Receiver, http_receiver, smtp_receiver
from tests.helpers import load_events as load
from tests.helpers import sqli_burst

DAY = date(2026, 3, 10)
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SQLI = default_detection().only("waf-sqli-burst")
SECRET = "s3cr3t-hmac-key"

# PagerDuty Events API v2 (developer.pagerduty.com/docs/events-API-v2/trigger-events,
# .../resolve-events): the fields the API requires and their allowed values.
PAGERDUTY_SCHEMA = {
    "type": "object",
    "required": ["routing_key", "event_action", "dedup_key"],
    "properties": {
        "routing_key": {"type": "string", "minLength": 1},
        "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
        "dedup_key": {"type": "string", "maxLength": 255},
        "payload": {
            "type": "object",
            "required": ["summary", "source", "severity"],
            "properties": {
                "summary": {"type": "string", "maxLength": 1024},
                "source": {"type": "string"},
                "severity": {"enum": ["critical", "error", "warning", "info"]},
                "timestamp": {"type": "string"},
                "custom_details": {"type": "object"},
            },
        },
        "links": {"type": "array", "items": {"required": ["href"]}},
    },
    "if": {"properties": {"event_action": {"const": "trigger"}}},
    "then": {"required": ["payload"]},
}
# Slack incoming webhooks (api.slack.com/messaging/webhooks, Block Kit reference): text
# and/or blocks; a section's text object is plain_text or mrkdwn, at most 3000 characters.
SLACK_SCHEMA = {
    "type": "object",
    "required": ["text", "blocks"],
    "properties": {
        "text": {"type": "string"},
        "blocks": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "type": {"enum": ["header", "section", "context", "divider", "actions"]},
                    "text": {
                        "type": "object",
                        "required": ["type", "text"],
                        "properties": {
                            "type": {"enum": ["plain_text", "mrkdwn"]},
                            "text": {"type": "string", "maxLength": 3000},
                        },
                    },
                },
            },
        },
    },
}
# Teams incoming webhook / Workflows: a message whose attachment is an Adaptive Card
# (learn.microsoft.com, "Send Adaptive Cards using an Incoming Webhook").
TEAMS_SCHEMA = {
    "type": "object",
    "required": ["type", "attachments"],
    "properties": {
        "type": {"const": "message"},
        "attachments": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["contentType", "content"],
                "properties": {
                    "contentType": {"const": "application/vnd.microsoft.card.adaptive"},
                    "content": {
                        "type": "object",
                        "required": ["type", "version", "body"],
                        "properties": {
                            "type": {"const": "AdaptiveCard"},
                            "version": {"type": "string"},
                            "body": {"type": "array"},
                        },
                    },
                },
            },
        },
    },
}


def webhook_schema() -> dict[str, Any]:
    text = resources.files("soc_platform.alerts").joinpath("webhook.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@pytest.fixture
def hot(pg_dsn: str) -> HotStore:
    store = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))
    store.setup()
    return store


def configure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, routes: str, env: dict[str, str]
) -> AlertConfig:
    path = tmp_path / "routes.yaml"
    path.write_text(routes)
    config = load_settings({"SOC_ALERT_ROUTES": str(path), **env}).alerts
    assert config is not None
    monkeypatch.setattr(outbox, "_config", config)
    monkeypatch.setattr(outbox, "_config_loaded", True)
    return config


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with http_receiver() as r:
        yield r


def webhook_routes(extra: str = "", route_extra: str = "") -> str:
    return f"""
destinations:
  hook: {{type: webhook, url_env: HOOK_URL, secret_env: HOOK_SECRET{extra}}}
routes:
  - name: high
    match: {{severity: medium}}
    destinations: [hook]
{route_extra}
"""


def incident(hot: HotStore, ip: str = "198.51.100.7", at: datetime = NOON) -> str:
    load(hot, sqli_burst(at, ip, n=12))
    report = engine.correlate_days(hot, [at.date()], SQLI)
    [inc] = [i for i in report.incidents if i.client_ip == ip]
    return inc.id


def outbox_rows(dsn: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute("SELECT * FROM alert_outbox ORDER BY id")
        return list(cur.fetchall())


def make_due(dsn: str) -> None:
    """Skip the backoff (the test does not wait it out)."""
    with psycopg.connect(dsn) as conn:
        conn.execute("UPDATE alert_outbox SET next_attempt_at = now() WHERE status = 'pending'")


def drain(hot: HotStore, config: AlertConfig) -> sender.SendReport:
    return sender.drain(hot.connect, config)


@contextmanager
def delivering(
    hot: HotStore, config: AlertConfig, receiver: Receiver, *answer: object
) -> Iterator["Future[sender.SendReport]"]:
    """A sender (a drain in a thread) in the middle of its first message: the receiver
    holds its answer (``answer``: a status after the hold) until the block ends."""
    release = threading.Event()
    receiver.script = [("hold", release, *answer)]
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(drain, hot, config)
        try:
            receiver.wait_for(1)
            yield running
        finally:
            release.set()


def test_a_new_incident_reaches_the_webhook_once_signed_and_schema_valid(
    hot: HotStore, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = configure(
        monkeypatch,
        tmp_path,
        webhook_routes(),
        {"HOOK_URL": receiver.url + "/hook", "HOOK_SECRET": SECRET},
    )
    iid = incident(hot)
    [row] = outbox_rows(hot.dsn)
    assert (row["incident_id"], row["event"], row["status"]) == (iid, "trigger", "pending")
    report = drain(hot, config)
    assert (report.sent, report.messages, report.failed) == (1, 1, 0)
    [req] = receiver.requests
    assert req.path == "/hook"
    jsonschema.validate(req.json(), webhook_schema())
    expected = hmac.new(SECRET.encode(), req.body, hashlib.sha256).hexdigest()
    assert req.headers["x-soc-signature"] == f"sha256={expected}"
    body = req.json()
    assert body["notifications"][0]["incident"]["id"] == iid
    assert body["notifications"][0]["incident"]["url"] == f"http://127.0.0.1:8080/incidents/{iid}"
    assert body["notifications"][0]["dedup_key"] == iid

    # re-evaluation (a backfill of the day), late data extending it: no second notification
    engine.correlate_days(hot, [DAY], SQLI)
    load(hot, sqli_burst(NOON + timedelta(minutes=1, seconds=2), "198.51.100.7", n=6))
    engine.correlate_days(hot, [DAY], SQLI)
    assert drain(hot, config).sent == 0
    assert len(receiver.requests) == 1
    assert [r["status"] for r in outbox_rows(hot.dsn)] == ["sent"]


def test_severity_rise_and_repeat_interval_notify_again_superseded_carry_over(
    hot: HotStore, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = configure(
        monkeypatch,
        tmp_path,
        webhook_routes(route_extra="    repeat_interval: 1h"),
        {"HOOK_URL": receiver.url, "HOOK_SECRET": SECRET},
    )
    row = {
        "id": "inc-a",
        "rule": "waf-sqli-burst",
        "severity": "medium",
        "client_ip": "203.0.113.9",
        "status": "open",
        "description": "x",
    }
    now = datetime.now(UTC)
    with psycopg.connect(hot.dsn) as conn:
        assert outbox.record_upsert(conn, [row], {}, config, now) == 1
        assert outbox.record_upsert(conn, [row], {}, config, now) == 0  # unchanged
        assert outbox.record_upsert(conn, [{**row, "severity": "high"}], {}, config, now) == 1
        # lower again: nothing
        assert outbox.record_upsert(conn, [row], {}, config, now) == 0
        # the successor of a superseded incident at the same severity: carried over, silent
        succ = {**row, "id": "inc-b", "severity": "high"}
        assert outbox.record_upsert(conn, [succ], {"inc-a": "inc-b"}, config, now) == 0
        # the repeat interval passed: once more
        later = now + timedelta(hours=1, minutes=1)
        assert outbox.record_upsert(conn, [succ], {}, config, later) == 1
        assert outbox.record_upsert(conn, [succ], {}, config, later) == 0
    rows = outbox_rows(hot.dsn)
    assert [(r["incident_id"], r["severity"], r["epoch"], r["dedup_key"]) for r in rows] == [
        ("inc-b", "medium", 0, "inc-a"),
        ("inc-b", "high", 0, "inc-a"),
        ("inc-b", "high", 1, "inc-a"),
    ]
    assert drain(hot, config).sent == 3
    assert {n["dedup_key"] for r in receiver.requests for n in r.json()["notifications"]} == {
        "inc-a"
    }


def test_failures_are_retried_with_backoff_then_dead_and_errors_are_redacted(
    hot: HotStore, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "T0KEN-in-the-url"
    config = configure(
        monkeypatch,
        tmp_path,
        webhook_routes(", timeout: 0.5"),
        {"HOOK_URL": f"{receiver.url}/{token}", "HOOK_SECRET": SECRET},
    )
    monkeypatch.setattr(policy, "MAX_ATTEMPTS", 4)
    incident(hot)
    receiver.script = [(500, f"broken {token}"), ("429", 1), ("stall", 2)]
    first = drain(hot, config)
    assert (first.sent, first.failed) == (0, 1)
    [row] = outbox_rows(hot.dsn)
    assert row["status"] == "pending" and row["attempts"] == 1
    assert row["next_attempt_at"] > datetime.now(UTC)  # backoff: not due yet
    assert token not in row["last_error"] and "HTTP 500" in row["last_error"]
    assert drain(hot, config).sent == 0  # not due: nothing claimed
    make_due(hot.dsn)
    drain(hot, config)  # 429 with Retry-After: 1
    make_due(hot.dsn)
    drain(hot, config)  # the receiver stalls past the 0.5 s timeout
    [row] = outbox_rows(hot.dsn)
    assert row["attempts"] == 3 and row["status"] == "pending"
    assert "timed out" in row["last_error"] or "TimeoutError" in row["last_error"]
    receiver.script = [503]
    make_due(hot.dsn)
    assert drain(hot, config).dead == 1
    [row] = outbox_rows(hot.dsn)
    assert row["status"] == "dead"
    with psycopg.connect(hot.dsn) as conn:
        dead = outbox.dead_letters(conn)
        log = conn.execute(
            "SELECT attempt, ok, http_status, error FROM alert_deliveries"
        ).fetchall()
    assert [d["id"] for d in dead] == [row["id"]]
    assert [(a, ok, s) for a, ok, s, _ in log] == [
        (1, False, 500),
        (2, False, 429),
        (3, False, None),
        (4, False, 503),
    ]
    assert all(token not in (e or "") for *_, e in log)
    # retried by hand: delivered
    with psycopg.connect(hot.dsn) as conn:
        assert outbox.retry_dead(conn) == 1
    assert drain(hot, config).sent == 1
    assert len(receiver.requests) == 5


def test_a_reply_that_is_not_http_fails_one_message_not_the_round(
    hot: HotStore, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception outside urllib's own errors (BadStatusLine) was not caught: the round
    rolled back, the notification already delivered in it went back to pending (sent
    again at the next drain) and the failing one was claimed first for ever."""
    config = configure(
        monkeypatch, tmp_path, webhook_routes(), {"HOOK_URL": receiver.url, "HOOK_SECRET": SECRET}
    )
    incident(hot, ip="198.51.100.7")
    incident(hot, ip="203.0.113.9")  # another /24: a message of its own
    receiver.script = [200, "garbage"]
    report = drain(hot, config)
    assert (report.sent, report.failed) == (1, 1)
    rows = sorted(outbox_rows(hot.dsn), key=lambda r: r["id"])
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 1), ("pending", 1)]
    assert "BadStatusLine" in (rows[1]["last_error"] or "")
    make_due(hot.dsn)
    assert drain(hot, config).sent == 1
    assert len(receiver.requests) == 3  # the first message was not sent again


def test_two_predecessors_notified_alike_carry_over_to_one_successor(
    hot: HotStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Late events can merge two runs that each paged into one successor: both outbox rows
    carried over broke the UNIQUE key, and with it the whole incident write."""
    config = configure(
        monkeypatch,
        tmp_path,
        webhook_routes(),
        {"HOOK_URL": "http://127.0.0.1:9/h", "HOOK_SECRET": SECRET},
    )
    with psycopg.connect(hot.dsn) as conn:
        for old in ("inc-a", "inc-b"):
            conn.execute(
                "INSERT INTO alert_outbox (incident_id, dedup_key, route, destination, event, "
                "severity, incident, status) VALUES (%s, %s, 'default', 'hook', 'trigger', "
                "'high', '{}', 'sent')",
                (old, old),
            )
        outbox.record_upsert(conn, [], {"inc-a": "inc-c", "inc-b": "inc-c"}, config)
    rows = outbox_rows(hot.dsn)
    assert [(r["incident_id"], r["dedup_key"]) for r in rows] == [
        ("inc-c", "inc-a"),  # the oldest moves, keeping the key it was sent under
        ("inc-b", "inc-b"),  # the other stays with its incident
    ]


def test_per_destination_rate_limit_defers_the_rest(
    hot: HotStore, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = configure(
        monkeypatch,
        tmp_path,
        webhook_routes(", rate_per_minute: 2"),
        {"HOOK_URL": receiver.url, "HOOK_SECRET": SECRET},
    )
    rows = [
        {"id": f"inc-{i}", "rule": "r", "severity": "high", "client_ip": f"10.0.{i}.1"}
        for i in range(5)
    ]
    with psycopg.connect(hot.dsn) as conn:
        assert outbox.record_upsert(conn, rows, {}, config) == 5
    report = drain(hot, config)
    assert (report.messages, report.deferred) == (2, 3)
    assert len(receiver.requests) == 2
    make_due(hot.dsn)
    assert drain(hot, config).messages == 0  # still 2 in the last minute
    assert len(receiver.requests) == 2


def test_grouping_sends_one_message_per_group(
    hot: HotStore, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = configure(
        monkeypatch, tmp_path, webhook_routes(), {"HOOK_URL": receiver.url, "HOOK_SECRET": SECRET}
    )
    rows = [
        {"id": "a", "rule": "r", "severity": "high", "client_ip": "10.0.0.1"},
        {"id": "b", "rule": "r", "severity": "high", "client_ip": "10.0.0.2"},  # same /24
        {"id": "c", "rule": "r", "severity": "high", "client_ip": "10.0.9.2"},
    ]
    with psycopg.connect(hot.dsn) as conn:
        outbox.record_upsert(conn, rows, {}, config)
    assert drain(hot, config).messages == 2
    groups = sorted(
        sorted(n["incident"]["id"] for n in r.json()["notifications"]) for r in receiver.requests
    )
    assert groups == [["a", "b"], ["c"]]


def test_silenced_notifications_are_recorded_not_sent(
    hot: HotStore, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = configure(
        monkeypatch, tmp_path, webhook_routes(), {"HOOK_URL": receiver.url, "HOOK_SECRET": SECRET}
    )
    with psycopg.connect(hot.dsn) as conn:
        sid, _ = outbox.add_silence(
            conn, {"client_ip": "198.51.100.0/24"}, timedelta(hours=1), "pentest", "alice"
        )
    incident(hot)  # 198.51.100.7: silenced
    incident(hot, ip="203.0.113.5")  # not
    rows = outbox_rows(hot.dsn)
    assert sorted((r["status"], r["silence_id"]) for r in rows) == [
        ("pending", None),
        ("silenced", sid),
    ]
    assert drain(hot, config).sent == 1
    with psycopg.connect(hot.dsn) as conn:
        assert outbox.expire_silence(conn, sid)
        assert outbox.list_silences(conn) == []
        assert len(outbox.list_silences(conn, include_expired=True)) == 1
        assert outbox.counts(conn) == {
            "pending": 0,
            "sent": 1,
            "dead": 0,
            "silenced": 1,
            "canceled": 0,
        }


def test_pagerduty_trigger_then_resolve_from_the_lifecycle_slack_teams_email(
    hot: HotStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        http_receiver() as pd,
        http_receiver() as slack,
        http_receiver() as teams,
        smtp_receiver() as mail,
    ):
        routes = f"""
destinations:
  oncall: {{type: pagerduty, url: "{pd.url}/v2/enqueue", routing_key_env: PD_KEY}}
  chat: {{type: slack, url_env: SLACK_URL}}
  msteams: {{type: teams, url_env: TEAMS_URL}}
  mail: {{type: email, host: 127.0.0.1, port: {mail.port}, from: soc@example.org,
          to: [secops@example.org]}}
routes:
  - name: everything
    match: {{severity: informational}}
    destinations: [oncall, chat, msteams, mail]
"""
        config = configure(
            monkeypatch,
            tmp_path,
            routes,
            {
                "PD_KEY": "R0UTINGKEY",
                "SLACK_URL": slack.url + "/services/T/B/X",
                "TEAMS_URL": teams.url + "/workflow",
                "SOC_UI_URL": "https://soc.example.org/",
            },
        )
        iid = incident(hot)
        assert drain(hot, config).messages == 4
        [trigger] = pd.requests
        jsonschema.validate(trigger.json(), PAGERDUTY_SCHEMA)
        assert trigger.path == "/v2/enqueue"
        assert trigger.json()["event_action"] == "trigger"
        assert trigger.json()["dedup_key"] == iid
        assert trigger.json()["routing_key"] == "R0UTINGKEY"
        [s] = slack.requests
        jsonschema.validate(s.json(), SLACK_SCHEMA)
        assert f"https://soc.example.org/incidents/{iid}" in json.dumps(s.json())
        [t] = teams.requests
        jsonschema.validate(t.json(), TEAMS_SCHEMA)
        assert f"https://soc.example.org/incidents/{iid}" in json.dumps(t.json())
        [msg] = mail.messages
        assert mail.envelopes == [("soc@example.org", ["secops@example.org"])]
        assert f"https://soc.example.org/incidents/{iid}" in msg.get_payload()

        # an analyst resolves it: PagerDuty gets resolve with the same dedup key
        with psycopg.connect(hot.dsn) as conn:
            apply_change(conn, iid, Change(status="acknowledged"), actor="alice")
        assert drain(hot, config).messages == 0  # not a state alerting sends
        with psycopg.connect(hot.dsn) as conn:
            apply_change(
                conn, iid, Change(status="resolved", disposition="true_positive"), actor="alice"
            )
        assert drain(hot, config).messages == 4
        resolve = pd.requests[1].json()
        jsonschema.validate(resolve, PAGERDUTY_SCHEMA)
        assert (resolve["event_action"], resolve["dedup_key"]) == ("resolve", iid)
        assert "payload" not in resolve


def test_a_rolled_back_incident_change_leaves_no_intent(
    hot: HotStore, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = configure(
        monkeypatch, tmp_path, webhook_routes(), {"HOOK_URL": receiver.url, "HOOK_SECRET": SECRET}
    )
    row = {"id": "x", "rule": "r", "severity": "high", "client_ip": "10.0.0.1"}
    with psycopg.connect(hot.dsn) as conn:
        outbox.record_upsert(conn, [row], {}, config)
        conn.rollback()
    assert outbox_rows(hot.dsn) == []


def test_cli_silences_dead_letters_and_errors(
    hot: HotStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from soc_platform.cli import main

    monkeypatch.setenv("SOC_PG_DSN", hot.dsn)
    # not configured: one clear line, status 2
    assert main(["alerts", "send"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("soc-platform: error: alerting is not configured: set ")
    assert err.count("\n") == 1
    assert main(["alerts", "silence", "add", "colour=red", "--comment", "x"]) == 2
    assert "silence matcher 'colour' is not one of" in capsys.readouterr().err
    assert main(["alerts", "silence", "add", "rule=r", "--for", "soon", "--comment", "x"]) == 2
    assert capsys.readouterr().err.startswith("soc-platform: error: --for must be a duration")
    args = ["alerts", "silence", "add", "rule=waf-sqli-burst", "--for", "1h", "--comment", "drill"]
    assert main([*args, "--by", "bob"]) == 0
    sid = int(capsys.readouterr().out.split()[1])
    assert main(["alerts", "silence", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["id"], listed["matchers"], listed["created_by"]) == (
        sid,
        {"rule": "waf-sqli-burst"},
        "bob",
    )
    assert main(["alerts", "silence", "expire", str(sid)]) == 0
    assert main(["alerts", "silence", "expire", str(sid)]) == 2
    assert f"no active silence {sid}" in capsys.readouterr().err
    assert main(["alerts", "dead"]) == 0
    assert "no dead notifications" in capsys.readouterr().out
    assert main(["alerts", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "configured": False,
        "pending": 0,
        "sent": 0,
        "dead": 0,
        "silenced": 0,
        "canceled": 0,
    }


def test_routes_match_on_columns_the_engine_hook_does_not_pass(
    hot: HotStore, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine's hook passes a few columns of each changed row; the outbox decides on
    the whole stored incident (ATT&CK technique and tactic, the body's description)."""
    routes = """
destinations:
  hook: {type: webhook, url_env: HOOK_URL}
routes:
  - name: t1190
    match: {techniques: [T1190], tactics: [initial-access]}
    destinations: [hook]
"""
    config = configure(monkeypatch, tmp_path, routes, {"HOOK_URL": receiver.url})
    iid = incident(hot)
    assert drain(hot, config).sent == 1
    [n] = receiver.requests[0].json()["notifications"]
    assert n["incident"]["id"] == iid
    assert n["incident"]["attack_techniques"] == ["T1190"]
    assert n["incident"]["description"]


def pagerduty_routes(url: str) -> str:
    return f"""
destinations:
  oncall: {{type: pagerduty, url: "{url}/v2/enqueue", routing_key_env: PD_KEY}}
routes:
  - name: everything
    match: {{severity: informational}}
    destinations: [oncall]
"""


def pd_events(receiver: Receiver) -> list[tuple[str, str]]:
    return [(r.json()["event_action"], r.json()["dedup_key"]) for r in receiver.requests]


def close(dsn: str, incident_id: str) -> None:
    with psycopg.connect(dsn) as conn:
        apply_change(
            conn, incident_id, Change(status="resolved", disposition="true_positive"), actor="al"
        )


def test_a_resolve_never_overtakes_its_trigger(
    hot: HotStore, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trigger in backoff (a 500) when the analyst resolved: the sender sent the resolve
    at once and the trigger after its backoff, opening a PagerDuty alert nothing resolves.
    Now closing cancels the triggers not yet sent (a resolve follows only one that may
    have arrived), and a resolve waits while an earlier trigger of its key is pending."""
    config = configure(
        monkeypatch, tmp_path, pagerduty_routes(receiver.url), {"PD_KEY": "R0UTINGKEY"}
    )
    tried = incident(hot)
    receiver.script = [500]
    assert drain(hot, config).failed == 1  # the trigger waits out its backoff
    never = incident(hot, ip="203.0.113.9")  # written, not yet attempted
    close(hot.dsn, tried)
    close(hot.dsn, never)
    drain(hot, config)
    make_due(hot.dsn)
    drain(hot, config)
    # the 500'd trigger, then its resolve (it was attempted: it may have arrived), last
    assert pd_events(receiver) == [("trigger", tried), ("resolve", tried)]
    rows = outbox_rows(hot.dsn)
    assert sorted((r["incident_id"], r["event"], r["status"]) for r in rows) == sorted(
        [
            (tried, "trigger", "canceled"),
            (tried, "resolve", "sent"),
            (never, "trigger", "canceled"),  # never sent: nothing to resolve
        ]
    )
    with psycopg.connect(hot.dsn) as conn:
        assert outbox.counts(conn)["canceled"] == 2

    # the claim's ordering guard: a resolve whose trigger is pending (here in backoff)
    # is not sent before it, whatever their due times
    with psycopg.connect(hot.dsn) as conn:
        conn.execute(
            "INSERT INTO alert_outbox (incident_id, dedup_key, route, destination, event,"
            " severity, epoch, incident, status, next_attempt_at)"
            " SELECT 'inc-g', 'key-g', route, destination, e, severity, 5, incident,"
            " 'pending', now() + CASE e WHEN 'trigger' THEN interval '1 hour' ELSE '0' END"
            " FROM alert_outbox, unnest(ARRAY['trigger', 'resolve']) AS e"
            " WHERE incident_id = %s AND event = 'trigger'",
            (tried,),
        )
    assert drain(hot, config).sent == 0
    make_due(hot.dsn)
    assert drain(hot, config).sent == 2  # in one drain: the trigger, then the resolve
    assert pd_events(receiver)[2:] == [("trigger", "key-g"), ("resolve", "key-g")]


def test_closing_while_the_trigger_is_being_delivered_resolves_after_it(
    hot: HotStore, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trigger a live sender is delivering is not canceled (it may arrive): its resolve
    is written and sent after the trigger's outcome is recorded."""
    config = configure(
        monkeypatch, tmp_path, pagerduty_routes(receiver.url), {"PD_KEY": "R0UTINGKEY"}
    )
    iid = incident(hot)
    with delivering(hot, config, receiver) as running:
        close(hot.dsn, iid)
        assert [(r["event"], r["status"]) for r in outbox_rows(hot.dsn)] == [
            ("trigger", "pending"),
            ("resolve", "pending"),
        ]
    assert running.result(timeout=60).sent == 2
    assert pd_events(receiver) == [("trigger", iid), ("resolve", iid)]


def test_closing_a_merged_incident_resolves_every_dedup_key_it_inherited(
    hot: HotStore, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Predecessors that each paged under their own dedup key merged into one incident:
    one row per key carried over, the others stayed under their old ids, and closing the
    successor resolved one dedup key: the other PagerDuty alerts stayed open for ever."""
    config = configure(
        monkeypatch, tmp_path, pagerduty_routes(receiver.url), {"PD_KEY": "R0UTINGKEY"}
    )
    iid = incident(hot)
    assert drain(hot, config).sent == 1
    with psycopg.connect(hot.dsn) as conn:
        for old in ("inc-x", "inc-a", "inc-b"):  # each paged, at the successor's severity
            conn.execute(
                "INSERT INTO alert_outbox (incident_id, dedup_key, route, destination, event,"
                " severity, incident, status, attempts) SELECT %s, %s, route, destination,"
                " event, severity, incident, 'sent', 1 FROM alert_outbox WHERE incident_id = %s",
                (old, old, iid),
            )
        outbox.record_upsert(conn, [], {"inc-x": "inc-a"}, config)  # inc-x stays behind
        outbox.record_upsert(conn, [], {"inc-a": iid, "inc-b": iid}, config)
    close(hot.dsn, iid)
    drain(hot, config)
    resolves = sorted(key for action, key in pd_events(receiver) if action == "resolve")
    assert resolves == sorted([iid, "inc-a", "inc-b", "inc-x"])
    with psycopg.connect(hot.dsn) as conn:  # the same close written again: nothing more
        assert outbox.record_change(conn, iid, "open", "resolved", config) == 0
    triggers = [r for r in outbox_rows(hot.dsn) if r["event"] == "trigger"]
    assert [(r["incident_id"], r["successor_id"]) for r in triggers] == [
        (iid, None),
        ("inc-x", iid),  # a predecessor's predecessor follows the chain
        ("inc-a", iid),
        ("inc-b", iid),
    ]


def test_an_engine_write_does_not_wait_for_a_slow_delivery(
    hot: HotStore, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sender held its claim's row locks for its whole round, each message up to its
    timeout: the engine's carry-over of those rows waited behind a slow receiver. Now the
    claim is a lease taken in a short transaction and delivery holds no lock."""
    config = configure(
        monkeypatch, tmp_path, webhook_routes(), {"HOOK_URL": receiver.url, "HOOK_SECRET": SECRET}
    )
    row = {"id": "inc-a", "rule": "r", "severity": "high", "client_ip": "10.0.0.1"}
    with psycopg.connect(hot.dsn) as conn:
        assert outbox.record_upsert(conn, [row], {}, config) == 1
    with delivering(hot, config, receiver) as running:  # the receiver holds its answer
        with psycopg.connect(hot.dsn) as conn:
            conn.execute("SET lock_timeout = '1s'")  # a wait is an error, not a delay
            outbox.record_upsert(conn, [], {"inc-a": "inc-b"}, config)
    assert running.result(timeout=60).sent == 1
    [stored] = outbox_rows(hot.dsn)
    assert (stored["incident_id"], stored["status"], stored["claimed_by"]) == (
        "inc-b",
        "sent",
        None,
    )


def test_a_lease_holds_while_its_session_lives_and_until_it_runs_out(
    hot: HotStore, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows another live sender leased are not claimed; once its lease runs out they are
    (a hung sender delays, never loses, a notification)."""
    config = configure(
        monkeypatch, tmp_path, webhook_routes(), {"HOOK_URL": receiver.url, "HOOK_SECRET": SECRET}
    )
    row = {"id": "inc-a", "rule": "r", "severity": "high", "client_ip": "10.0.0.1"}
    with psycopg.connect(hot.dsn) as conn:
        assert outbox.record_upsert(conn, [row], {}, config) == 1
    with psycopg.connect(hot.dsn, autocommit=True) as other:  # a live session's lease
        other.execute(
            "UPDATE alert_outbox SET claimed_by = pg_backend_pid(),"
            " claimed_until = now() + interval '1 hour'"
        )
        assert drain(hot, config).sent == 0
        other.execute("UPDATE alert_outbox SET claimed_until = now() - interval '1 second'")
        assert drain(hot, config).sent == 1
    assert [r["status"] for r in outbox_rows(hot.dsn)] == ["sent"]
    assert len(receiver.requests) == 1


def test_a_reopened_incident_whose_unsent_trigger_was_canceled_notifies_again(
    hot: HotStore, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing cancels a trigger never sent and writes no resolve: the canceled trigger
    marks the close, so the reopened incident is a new state (a new epoch), not a repeat."""
    config = configure(
        monkeypatch, tmp_path, pagerduty_routes(receiver.url), {"PD_KEY": "R0UTINGKEY"}
    )
    iid = incident(hot)
    close(hot.dsn, iid)
    assert [(r["event"], r["status"]) for r in outbox_rows(hot.dsn)] == [("trigger", "canceled")]
    with psycopg.connect(hot.dsn) as conn:  # its group's new run reopens it
        conn.execute("UPDATE incidents SET status = 'open' WHERE id = %s", (iid,))
        assert outbox.record_upsert(conn, [{"id": iid}], {}, config) == 1
    assert drain(hot, config).sent == 1
    assert pd_events(receiver) == [("trigger", iid)]
    assert [(r["epoch"], r["status"]) for r in outbox_rows(hot.dsn)] == [
        (0, "canceled"),
        (1, "sent"),
    ]


def two_route_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, receiver: Receiver
) -> AlertConfig:
    """Route A pages PagerDuty for high incidents (repeating hourly); route B sends every
    incident to a webhook."""
    routes = f"""
destinations:
  oncall: {{type: pagerduty, url: "{receiver.url}/v2/enqueue", routing_key_env: PD_KEY}}
  hook: {{type: webhook, url_env: HOOK_URL}}
routes:
  - name: page
    match: {{severity: high}}
    destinations: [oncall]
    repeat_interval: 1h
  - name: all
    match: {{severity: informational}}
    destinations: [hook]
"""
    env = {"PD_KEY": "R0UTINGKEY", "HOOK_URL": f"{receiver.url}/hook"}
    return configure(monkeypatch, tmp_path, routes, env)


def hook_events(receiver: Receiver) -> list[str]:
    return [
        n["event"]
        for r in receiver.requests
        if r.path == "/hook"
        for n in r.json()["notifications"]
    ]


def reopen(dsn: str, incident_id: str, severity: str, config: AlertConfig, at: datetime) -> int:
    """Its group's new run reopens it (at ``severity``): the engine's upsert."""
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "UPDATE incidents SET status = 'open', severity = %s WHERE id = %s",
            (severity, incident_id),
        )
        return outbox.record_upsert(conn, [{"id": incident_id}], {}, config, now=at)


def test_each_resolve_is_numbered_by_its_own_key_so_a_later_close_is_not_dropped(
    hot: HotStore, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One epoch for every resolve of a close (the highest trigger epoch of any
    destination): PagerDuty's repeats took epochs 0-3, the webhook's reopened trigger was
    epoch 1, and the second close's webhook resolve took epoch 3, which the first close
    had already used: dropped by the unique key, the webhook's alert never resolved."""
    config = two_route_config(monkeypatch, tmp_path, receiver)
    iid = incident(hot)
    start = datetime.now(UTC)
    reopen(hot.dsn, iid, "high", config, start)
    for hours in (1, 2, 3):  # PagerDuty repeats: epochs 1, 2, 3
        reopen(hot.dsn, iid, "high", config, start + timedelta(hours=hours, minutes=1))
    drain(hot, config)
    close(hot.dsn, iid)
    drain(hot, config)
    assert hook_events(receiver)[-1] == "resolve"
    assert hook_events(receiver).count("resolve") == 1
    assert reopen(hot.dsn, iid, "medium", config, start + timedelta(hours=5)) == 1  # hook
    drain(hot, config)
    close(hot.dsn, iid)
    drain(hot, config)
    assert hook_events(receiver)[-2:] == ["trigger", "resolve"]
    assert hook_events(receiver).count("resolve") == 2
    resolves = [
        (r["destination"], r["epoch"], r["status"])
        for r in outbox_rows(hot.dsn)
        if r["event"] == "resolve"
    ]
    assert resolves == [("hook", 0, "sent"), ("oncall", 3, "sent"), ("hook", 1, "sent")]
    # PagerDuty's key was resolved once, and not again (nothing triggered it since)
    assert [a for a, _ in pd_events_at(receiver)].count("resolve") == 1


def pd_events_at(receiver: Receiver) -> list[tuple[str, str]]:
    return [
        (r.json()["event_action"], r.json()["dedup_key"])
        for r in receiver.requests
        if r.path == "/v2/enqueue"
    ]


def test_a_silence_created_after_the_trigger_was_sent_does_not_hold_back_its_resolve(
    hot: HotStore, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Silences applied to resolves too: a silence matching an incident whose trigger was
    already sent made the close's resolve 'silenced', and the receiver's alert stayed
    open. A silence holds triggers back only."""
    config = configure(
        monkeypatch, tmp_path, pagerduty_routes(receiver.url), {"PD_KEY": "R0UTINGKEY"}
    )
    iid = incident(hot)
    assert drain(hot, config).sent == 1
    with psycopg.connect(hot.dsn) as conn:
        outbox.add_silence(
            conn, {"client_ip": "198.51.100.0/24"}, timedelta(hours=1), "maintenance", "bob"
        )
    close(hot.dsn, iid)
    assert drain(hot, config).sent == 1
    assert pd_events(receiver) == [("trigger", iid), ("resolve", iid)]
    assert [(r["event"], r["status"]) for r in outbox_rows(hot.dsn)] == [
        ("trigger", "sent"),
        ("resolve", "sent"),
    ]
    incident(hot, ip="198.51.100.9")  # a new incident the silence matches: held back
    assert outbox_rows(hot.dsn)[-1]["status"] == "silenced"


def lease_left(dsn: str, outbox_id: int) -> float:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM claimed_until - now()) FROM alert_outbox WHERE id = %s",
            (outbox_id,),
        ).fetchone()
    assert row is not None and row[0] is not None
    return float(row[0])


def test_a_message_is_not_sent_on_a_lease_about_to_run_out(
    hot: HotStore, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round could outlast its lease while its session lived (one SMTP message is several
    socket operations): another sender claimed and sent the same rows. Now before each
    message the sender checks its lease; with less than the margin left it releases the
    rest of the round and claims again with a new lease."""
    config = configure(
        monkeypatch, tmp_path, pagerduty_routes(receiver.url), {"PD_KEY": "R0UTINGKEY"}
    )
    first = incident(hot)
    second = incident(hot, ip="203.0.113.9")
    [dest] = config.destinations.values()
    margin = 2 * dest.timeout + 30  # sender.lease_margin: several socket operations
    one, two = threading.Event(), threading.Event()
    receiver.script = [("hold", one), ("hold", two)]
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(drain, hot, config)
        try:
            receiver.wait_for(1)
            with psycopg.connect(hot.dsn) as conn:  # the round's lease nearly ran out
                conn.execute("UPDATE alert_outbox SET claimed_until = now() + interval '5 s'")
            one.set()
            receiver.wait_for(2)
            second_row = outbox_rows(hot.dsn)[-1]
            assert second_row["incident_id"] == second
            # the second message goes out on a new lease, with more than the margin left
            assert lease_left(hot.dsn, second_row["id"]) > margin
        finally:
            one.set()
            two.set()
        assert running.result(timeout=60).sent == 2
    assert pd_events(receiver) == [("trigger", first), ("trigger", second)]


def test_a_stale_sender_does_not_touch_a_row_another_sender_holds(
    hot: HotStore, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sender whose lease had run out recorded its failed attempt on a row another sender
    had claimed meanwhile: it cleared that sender's claim (a third could claim it too).
    Now every update after a delivery names the session that holds the row."""
    config = configure(
        monkeypatch, tmp_path, pagerduty_routes(receiver.url), {"PD_KEY": "R0UTINGKEY"}
    )
    incident(hot)
    with psycopg.connect(hot.dsn, autocommit=True) as other:
        with delivering(hot, config, receiver, 500) as running:
            other.execute(  # the lease ran out and another (live) sender claimed the row
                "UPDATE alert_outbox SET claimed_by = pg_backend_pid(),"
                " claimed_until = now() + interval '1 hour'"
            )
        assert running.result(timeout=60).failed == 1
        [row] = outbox_rows(hot.dsn)
        other_pid = other.execute("SELECT pg_backend_pid()").fetchone()
        assert other_pid is not None
        assert (row["status"], row["attempts"], row["claimed_by"]) == ("pending", 0, other_pid[0])


def test_a_trigger_canceled_while_being_delivered_is_resolved_after_it(
    hot: HotStore, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lease of a trigger being delivered ran out, the incident closed: the cancel took
    the trigger (never attempted: no resolve), then the sender recorded it sent: a
    PagerDuty alert nothing resolved. Now recording a delivered trigger that was canceled
    meanwhile writes its key's resolve, sent after it."""
    config = configure(
        monkeypatch, tmp_path, pagerduty_routes(receiver.url), {"PD_KEY": "R0UTINGKEY"}
    )
    iid = incident(hot)
    with delivering(hot, config, receiver) as running:
        with psycopg.connect(hot.dsn) as conn:  # the lease ran out mid-delivery
            conn.execute("UPDATE alert_outbox SET claimed_until = now() - interval '1 s'")
        close(hot.dsn, iid)
        assert [(r["event"], r["status"]) for r in outbox_rows(hot.dsn)] == [
            ("trigger", "canceled")
        ]
    running.result(timeout=60)
    drain(hot, config)
    assert pd_events(receiver) == [("trigger", iid), ("resolve", iid)]
    rows = outbox_rows(hot.dsn)
    assert [(r["event"], r["status"]) for r in rows] == [
        ("trigger", "sent"),
        ("resolve", "sent"),
    ]
    assert rows[1]["incident"]["status"] == "resolved"  # the incident as it is now


def test_migration_0012_keeps_a_unique_key_throughout_and_moves_old_resolves_aside(
    pg_dsn: str, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two upgrade defects of migration 0012. Its statements run one by one on
    TimescaleDB, and it dropped the old unique key before creating the two that replace
    it. And resolves the old code wrote (numbered by counting every resolve of the
    incident) could hold the number a later close now gives a key's resolve: that resolve
    was dropped. Now the new keys come first, the old resolves move to negative epochs,
    and a re-run of the migration (a failed one is re-run whole) leaves them there."""
    config = configure(
        monkeypatch, tmp_path, pagerduty_routes(receiver.url), {"PD_KEY": "R0UTINGKEY"}
    )
    store = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))
    store.setup(target_version=11)
    iid = incident(store)
    with psycopg.connect(pg_dsn) as conn:
        # the old code's history: paged, resolved under the number 1 (its other
        # destination's resolve was counted first), reopened and paged in epoch 1
        conn.execute("UPDATE alert_outbox SET status = 'sent', attempts = 1")
        conn.execute(
            "INSERT INTO alert_outbox (incident_id, dedup_key, route, destination, event,"
            " severity, epoch, incident, status, attempts) SELECT incident_id, dedup_key,"
            " route, destination, e.event, severity, 1, incident, 'sent', 1"
            " FROM alert_outbox, (VALUES ('resolve'), ('trigger')) AS e(event)"
            " WHERE incident_id = %s",
            (iid,),
        )
    [migration] = [m for m in sql.migrations("plain") if m.version == 12]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for label, statement in migration.statements:  # one by one, as on TimescaleDB
            conn.execute(statement)
            row = conn.execute(
                "SELECT count(*) FROM pg_index WHERE indrelid = 'alert_outbox'::regclass"
                " AND indisunique AND NOT indisprimary"
            ).fetchone()
            assert row is not None and row[0] >= 1, f"no unique key after {label}"
    store.setup()  # 0012 not recorded: applied again, whole
    assert [r["epoch"] for r in outbox_rows(pg_dsn) if r["event"] == "resolve"] == [-2]
    close(pg_dsn, iid)
    assert [(r["event"], r["epoch"]) for r in outbox_rows(pg_dsn)][-1] == ("resolve", 1)
    drain(store, config)
    assert pd_events(receiver) == [("resolve", iid)]
