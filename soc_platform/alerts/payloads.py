"""What each destination receives (pure): the request body for a group of notifications.

A *notification* is one outbox intent: its event (``trigger``/``resolve``), dedup key and
the incident as it was when the intent was written. Webhook, Slack, Teams and email get
one message per group (route grouping); PagerDuty one event per incident (its dedup key).
"""

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

#: version of the generic webhook body (schema: soc_platform/alerts/webhook.schema.json)
WEBHOOK_VERSION = 1
SIGNATURE_HEADER = "X-Soc-Signature"

# PagerDuty's severities (Events API v2, payload.severity: critical, error, warning, info;
# developer.pagerduty.com/docs/events-API-v2/trigger-events)
_PD_SEVERITY = {
    "critical": "critical",
    "high": "error",
    "medium": "warning",
    "low": "info",
    "informational": "info",
}
_EMOJI = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "medium": ":large_yellow_circle:",
}


@dataclass(frozen=True)
class Notification:
    outbox_id: int
    event: str
    dedup_key: str
    route: str
    destination: str
    group_key: str
    incident: Mapping[str, Any]


def incident_url(ui_url: str, incident_id: str) -> str:
    return f"{ui_url.rstrip('/')}/incidents/{incident_id}"


def _public(inc: Mapping[str, Any], ui_url: str) -> dict[str, Any]:
    return {
        "id": inc["id"],
        "url": incident_url(ui_url, str(inc["id"])),
        "rule": inc.get("rule", ""),
        "rule_title": inc.get("rule_title", ""),
        "severity": inc.get("severity", ""),
        "score": inc.get("score", 0),
        "status": inc.get("status", "open"),
        "client_ip": inc.get("client_ip", ""),
        "targets": list(inc.get("targets") or []),
        "start_time": inc.get("start_time"),
        "end_time": inc.get("end_time"),
        "event_count": inc.get("event_count", 0),
        "description": inc.get("description", ""),
        "attack_tactics": list(inc.get("attack_tactics") or []),
        "attack_techniques": list(inc.get("attack_techniques") or []),
    }


def _title(n: Notification) -> str:
    inc = n.incident
    verb = "resolved" if n.event == "resolve" else str(inc.get("severity", "")).upper()
    return f"[{verb}] {inc.get('rule_title') or inc.get('rule')}: {inc.get('description', '')}"


def webhook_body(group: Sequence[Notification], ui_url: str) -> bytes:
    """The generic webhook's JSON (README "Alerting", webhook.schema.json)."""
    first = group[0]
    body = {
        "version": WEBHOOK_VERSION,
        "route": first.route,
        "group_key": first.group_key,
        "notifications": [
            {
                "id": n.outbox_id,
                "event": n.event,
                "dedup_key": n.dedup_key,
                "incident": _public(n.incident, ui_url),
            }
            for n in group
        ],
    }
    return json.dumps(body, sort_keys=True, default=str).encode()


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the body>`` (the ``X-Soc-Signature`` header)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def slack_body(group: Sequence[Notification], ui_url: str) -> bytes:
    """A Slack incoming-webhook message: ``text`` (the notification fallback) and Block Kit
    ``blocks`` (api.slack.com/messaging/webhooks; section blocks take ``mrkdwn`` text of
    at most 3000 characters, a message at most 50 blocks)."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"{len(group)} incident notification(s)"[:150]},
        }
    ]
    for n in group[:45]:
        inc = n.incident
        url = incident_url(ui_url, str(inc["id"]))
        emoji = (
            ":white_check_mark:"
            if n.event == "resolve"
            else _EMOJI.get(inc.get("severity", ""), "")
        )
        text = (
            f"{emoji} *<{url}|{_title(n)}>*\n"
            f"client `{inc.get('client_ip', '')}` · {inc.get('event_count', 0)} events · "
            f"score {inc.get('score', 0)}"
        )
        techniques = ", ".join(inc.get("attack_techniques") or [])
        if techniques:
            text += f" · ATT&CK {techniques}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
    if len(group) > 45:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"and {len(group) - 45} more"}],
            }
        )
    body = {"text": _title(group[0])[:3000], "blocks": blocks}
    return json.dumps(body).encode()


def teams_body(group: Sequence[Notification], ui_url: str) -> bytes:
    """A Microsoft Teams message holding an Adaptive Card, as incoming webhooks and
    Workflows ("Post to a channel when a webhook request is received") take it:
    ``{"type": "message", "attachments": [{"contentType":
    "application/vnd.microsoft.card.adaptive", "content": <AdaptiveCard>}]}``
    (learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/
    connectors-using, "Send Adaptive Cards using an Incoming Webhook")."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "size": "Medium",
            "weight": "Bolder",
            "text": f"{len(group)} incident notification(s)",
            "wrap": True,
        }
    ]
    actions = []
    for n in group[:20]:
        inc = n.incident
        body.append({"type": "TextBlock", "text": _title(n), "wrap": True, "weight": "Bolder"})
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {"title": "Severity", "value": str(inc.get("severity", ""))},
                    {"title": "Client", "value": str(inc.get("client_ip", ""))},
                    {"title": "Events", "value": str(inc.get("event_count", 0))},
                    {"title": "Incident", "value": str(inc["id"])},
                ],
            }
        )
        actions.append(
            {
                "type": "Action.OpenUrl",
                "title": f"Open {inc['id']}",
                "url": incident_url(ui_url, str(inc["id"])),
            }
        )
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": actions[:5],
    }
    message = {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }
    return json.dumps(message).encode()


def pagerduty_body(n: Notification, routing_key: str, ui_url: str) -> bytes:
    """One PagerDuty Events API v2 event (POST https://events.pagerduty.com/v2/enqueue;
    developer.pagerduty.com/docs/events-API-v2/trigger-events and resolve-events):
    ``routing_key``, ``event_action`` trigger/resolve, ``dedup_key`` (at most 255
    characters) and, for a trigger, ``payload`` with the required ``summary`` (at most 1024
    characters), ``source`` and ``severity`` (critical/error/warning/info)."""
    inc = n.incident
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": n.event,
        "dedup_key": n.dedup_key[:255],
    }
    if n.event == "trigger":
        event["payload"] = {
            "summary": _title(n)[:1024],
            "source": str(inc.get("client_ip") or "soc-platform"),
            "severity": _PD_SEVERITY.get(str(inc.get("severity")), "warning"),
            "component": ", ".join(inc.get("targets") or [])[:255] or None,
            "group": str(inc.get("rule", "")),
            "class": str(inc.get("type", "")),
            "custom_details": _public(inc, ui_url),
        }
        event["payload"] = {k: v for k, v in event["payload"].items() if v is not None}
        if inc.get("start_time"):
            event["payload"]["timestamp"] = str(inc["start_time"])
        event["client"] = "soc-platform"
        event["client_url"] = incident_url(ui_url, str(inc["id"]))
        event["links"] = [{"href": incident_url(ui_url, str(inc["id"])), "text": "Incident"}]
    return json.dumps(event, default=str).encode()


def email_message(
    group: Sequence[Notification], ui_url: str, sender: str, recipients: Sequence[str]
) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = (
        _title(group[0]) if len(group) == 1 else f"{len(group)} incident notifications"
    )[:200]
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    lines = []
    for n in group:
        inc = n.incident
        lines.append(_title(n))
        lines.append(f"  client {inc.get('client_ip', '')}, {inc.get('event_count', 0)} events")
        lines.append(f"  {incident_url(ui_url, str(inc['id']))}")
        lines.append("")
    msg.set_content("\n".join(lines))
    return msg
