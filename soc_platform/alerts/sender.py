"""The sender (I/O): claims due outbox intents, delivers them, records the outcome.

Each round claims a batch of due intents in a short transaction (``FOR UPDATE SKIP
LOCKED``, then a lease: the claiming session's backend pid and a time limit), delivers
them outside any transaction (HTTP with urllib, email with smtplib) and records each
message's outcome in a short transaction of its own: sent, retried later (exponential
backoff with jitter) or dead. No lock is held while a receiver answers, so an engine write
that carries notifications over never waits for one. A sender killed after a delivery and
before its record leaves the intents pending, leased by a session that is gone: the next
sender claims them at once and sends them again with the same outbox id and dedup key (at
most a resend, never a loss). Before each message the sender checks its lease in the
database: with less than :func:`lease_margin` left (or a row no longer its own) it
releases the rest of the round and claims again, so a lease does not run out while a
message is on its way; every update after a delivery is made only to rows the session
still holds.
"""

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from soc_platform import faults, sql
from soc_platform.alerts import payloads, policy
from soc_platform.alerts.routes import AlertConfig, Destination
from soc_platform.redact import redact_text

Connect = Callable[[], AbstractContextManager[psycopg.Connection[Any]]]
USER_AGENT = "soc-platform-alerts/1"


@dataclass
class SendReport:
    sent: int = 0  # intents delivered
    messages: int = 0  # requests / emails that succeeded
    failed: int = 0  # failed attempts (retried later)
    dead: int = 0  # intents that became dead letters
    deferred: int = 0  # intents held back by a rate limit
    errors: list[str] = field(default_factory=list)  # redacted, one line each

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "messages": self.messages,
            "failed": self.failed,
            "dead": self.dead,
            "deferred": self.deferred,
            "errors": self.errors[:20],
        }


@dataclass(frozen=True)
class Outcome:
    ok: bool
    http_status: int | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds the receiver asked to wait (429/503)


class DeliveryError(Exception):
    pass


def _http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return Outcome(True, response.status)
    except urllib.error.HTTPError as exc:
        retry_after = None
        header = exc.headers.get("Retry-After") if exc.headers else None
        if header and header.strip().isdigit():
            retry_after = float(header.strip())
        return Outcome(False, exc.code, f"HTTP {exc.code} {exc.reason}", retry_after)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Outcome(False, None, f"{type(exc).__name__}: {reason}")


def _send_email(
    dest: Destination, config: AlertConfig, group: Sequence[payloads.Notification]
) -> Outcome:
    assert dest.host and dest.sender
    msg = payloads.email_message(group, config.ui_url, dest.sender, dest.recipients)
    try:
        with smtplib.SMTP(dest.host, dest.port, timeout=dest.timeout) as smtp:
            if dest.starttls:
                smtp.starttls(context=ssl.create_default_context())
            password = config.secret(dest.password_env)
            if dest.username and password:
                smtp.login(dest.username, password)
            smtp.send_message(msg)
        return Outcome(True)
    except (smtplib.SMTPException, OSError) as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}")


def deliver(
    dest: Destination, config: AlertConfig, group: Sequence[payloads.Notification]
) -> Outcome:
    """Send one message (a group of notifications; PagerDuty: one notification)."""
    if dest.type == "email":
        return _send_email(dest, config, group)
    url = config.destination_url(dest)
    headers: dict[str, str] = {}
    if dest.type == "webhook":
        body = payloads.webhook_body(group, config.ui_url)
        secret = config.secret(dest.secret_env)
        if secret:
            headers[payloads.SIGNATURE_HEADER] = payloads.signature(secret, body)
    elif dest.type == "slack":
        body = payloads.slack_body(group, config.ui_url)
    elif dest.type == "teams":
        body = payloads.teams_body(group, config.ui_url)
    elif dest.type == "pagerduty":
        routing_key = config.secret(dest.routing_key_env) or ""
        (one,) = group
        body = payloads.pagerduty_body(one, routing_key, config.ui_url)
    else:  # pragma: no cover - validated in routes
        raise DeliveryError(f"unknown destination type {dest.type!r}")
    return _http_post(url, body, headers, dest.timeout)


def _groups(
    rows: Sequence[dict[str, Any]], config: AlertConfig
) -> Iterator[tuple[Destination | None, list[payloads.Notification]]]:
    """One message per (destination, route, group, event); PagerDuty one per intent."""
    grouped: dict[tuple[Any, ...], list[payloads.Notification]] = {}
    dests: dict[tuple[Any, ...], Destination | None] = {}
    for r in rows:
        dest = config.destinations.get(r["destination"])
        n = payloads.Notification(
            outbox_id=r["id"],
            event=r["event"],
            dedup_key=r["dedup_key"],
            route=r["route"],
            destination=r["destination"],
            group_key=r["group_key"],
            incident=r["incident"],
        )
        key: tuple[Any, ...] = (r["destination"], r["route"], r["group_key"], r["event"])
        if dest is None or dest.type == "pagerduty":
            key = (*key, r["id"])
        grouped.setdefault(key, []).append(n)
        dests[key] = dest
    for key, group in grouped.items():
        yield dests[key], group


def lease_for(config: AlertConfig, batch: int) -> timedelta:
    """How long a claim holds while its session lives: a round's worst case (every
    message waiting out the slowest destination's timeout), a minute, and more than
    :func:`lease_margin` of any destination (so a fresh lease always covers one message)."""
    slowest = max((d.timeout for d in config.destinations.values()), default=10.0)
    return timedelta(seconds=60 + (batch + 2) * slowest)


def lease_margin(dest: Destination) -> timedelta:
    """The lease a message to ``dest`` needs left before it is sent: one message is
    several socket operations (an SMTP session: connect, STARTTLS, login, data), each up
    to the timeout, so twice the timeout and half a minute."""
    return timedelta(seconds=2 * dest.timeout + 30)


def drain(
    connect: Connect,
    config: AlertConfig,
    *,
    batch: int = 200,
    max_rounds: int = 50,
    deliver_fn: Callable[[Destination, AlertConfig, Sequence[payloads.Notification]], Outcome]
    | None = None,
) -> SendReport:
    """Deliver every due intent (rounds of ``batch`` until none can be claimed), on one
    session whose short transactions claim, and record outcomes."""
    report = SendReport()
    send = deliver_fn or deliver
    with connect() as conn:
        conn.commit()  # nothing open: each step below is its own short transaction
        conn.autocommit = True
        for _ in range(max_rounds):
            if not _round(conn, config, batch, send, report):
                break
    return report


def _round(
    conn: psycopg.Connection[Any],
    config: AlertConfig,
    batch: int,
    send: Callable[[Destination, AlertConfig, Sequence[payloads.Notification]], Outcome],
    report: SendReport,
) -> int:
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            sql.query("alert_claim_due"), {"limit": batch, "lease": lease_for(config, batch)}
        )
        rows = sorted(cur.fetchall(), key=lambda r: int(r["id"]))
        cur.execute(sql.query("alert_recent_messages"))
        recent = {r["destination"]: int(r["messages"]) for r in cur.fetchall()}
    if not rows:
        return 0
    attempts = {r["id"]: int(r["attempts"]) for r in rows}
    secrets = config.secret_values
    groups = list(_groups(rows, config))
    for at, (dest, group) in enumerate(groups):
        ids = [n.outbox_id for n in group]
        if dest is None:
            conn.execute(
                sql.query("alert_mark_undeliverable"),
                {"ids": ids, "error": f"destination {group[0].destination!r} is not configured"},
            )
            report.dead += len(ids)
            continue
        used = recent.get(dest.name, 0)
        if used >= dest.rate_per_minute:
            conn.execute(
                sql.query("alert_defer"),
                {"ids": ids, "delay": timedelta(seconds=60 / dest.rate_per_minute)},
            )
            report.deferred += len(ids)
            continue
        if not _lease_holds(conn, ids, lease_margin(dest)):
            # the lease could run out during this message (another sender would claim
            # and send its rows again, a close cancel a trigger being delivered): the
            # rest of the round is released and the next round claims with a new lease
            rest = [n.outbox_id for _, g in groups[at:] for n in g]
            conn.execute(sql.query("alert_release"), {"ids": rest})
            return len(rows)
        recent[dest.name] = used + 1
        try:
            outcome = send(dest, config, group)
        except Exception as exc:  # any failure of one message is its own
            # (a reply that is not HTTP, a URL urllib rejects, a header email refuses):
            # recorded as a failed attempt, so it neither undoes the round's other
            # deliveries (which would send them again) nor blocks the queue
            outcome = Outcome(False, None, f"{type(exc).__name__}: {exc}")
        if outcome.ok:
            faults.check("alert_sent")  # delivered, the outbox not yet told
            conn.execute(
                sql.query("alert_record_sent"),
                {
                    "ids": ids,
                    "message": ids[0],
                    "destination": dest.name,
                    "http_status": outcome.http_status,
                },
            )
            report.sent += len(ids)
            report.messages += 1
            continue
        error = redact_text(outcome.error, secrets) if outcome.error else None
        logs = [
            {
                "outbox_id": n.outbox_id,
                "message": ids[0],
                "destination": dest.name,
                "attempt": attempts[n.outbox_id] + 1,
                "ok": False,
                "http_status": outcome.http_status,
                "error": error,
            }
            for n in group
        ]
        report.failed += 1
        report.errors.append(f"{dest.name}: {error}")
        with conn.transaction(), conn.cursor() as cur:
            for n in group:
                tried = attempts[n.outbox_id] + 1
                delay = policy.backoff(tried)
                if outcome.retry_after is not None:
                    delay = max(delay, timedelta(seconds=min(outcome.retry_after, 3600)))
                if tried >= policy.MAX_ATTEMPTS:
                    report.dead += 1
                cur.execute(
                    sql.query("alert_mark_failed"),
                    {
                        "id": n.outbox_id,
                        "error": error,
                        "delay": delay,
                        "max_attempts": policy.MAX_ATTEMPTS,
                    },
                )
            cur.executemany(sql.query("alert_log_delivery"), logs)
    return len(rows)


def _lease_holds(conn: psycopg.Connection[Any], ids: Sequence[int], margin: timedelta) -> bool:
    """Whether this session still holds every one of ``ids`` with ``margin`` of lease left
    (the database's clock, the one the lease was set by)."""
    with conn.cursor() as cur:
        cur.execute(sql.query("alert_lease_left"), {"ids": list(ids), "margin": margin})
        row = cur.fetchone()
    return row is not None and int(row[0]) == len(ids)


def summary(report: SendReport) -> str:
    return json.dumps(report.as_dict())
