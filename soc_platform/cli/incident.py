"""``soc-platform incident ...``: show one incident (its audit trail, its events) and work it
(ack, assign, resolve, note, status) through :func:`soc_platform.incidents.lifecycle.apply_change`,
the same path and audit as the web UI."""

import argparse
import getpass
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from soc_platform.cli.common import _fmt_time, _hot, _print
from soc_platform.errors import LifecycleError
from soc_platform.incidents.events import EVENT_COLUMNS as PAGE_COLUMNS
from soc_platform.incidents.lifecycle import (
    DISPOSITIONS,
    STATUSES,
    AuditEntry,
    Change,
    apply_change,
    audit_trail,
    get_incident,
)
from soc_platform.settings import Settings

if TYPE_CHECKING:
    from soc_platform.incidents.events import EventPage


def add_parser(sub: Any) -> None:
    inc = sub.add_parser("incident", help="show an incident, or work it (ack, assign, resolve...)")
    isub = inc.add_subparsers(dest="incident_command", required=True)

    def action(name: str, help_text: str, value: str | None = None) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = isub.add_parser(name, help=help_text)
        if value:
            p.add_argument("value", metavar=value)
        p.add_argument("id", metavar="ID", help="the incident's id (soc-platform incidents)")
        p.add_argument("--json", action="store_true")
        if name != "show":
            p.add_argument("--actor", help="who makes the change (default: the OS user)")
        return p

    show = action("show", "an incident, its audit trail and (--events) its events")
    show.add_argument(
        "--events",
        action="store_true",
        help="its events: from the hot store, or from the raw lake past hot retention",
    )
    show.add_argument("--limit", type=int, default=50, help="events per page")
    show.add_argument("--page", type=int, default=1, help="the page of events (from 1)")
    action("ack", "acknowledge: someone is looking at it")
    action("assign", "give it to someone (an empty USER unassigns)", "USER")
    resolve = action("resolve", "close it with a disposition")
    resolve.add_argument(
        "--disposition",
        choices=DISPOSITIONS,
        help="true_positive, benign (required), or false_positive (= status false_positive)",
    )
    action("note", "add a note", "TEXT")
    status = action("status", f"set its status: {', '.join(STATUSES)}", "STATUS")
    status.add_argument("--disposition", choices=DISPOSITIONS, help="when closing")


def _change(args: argparse.Namespace) -> Change:
    command = args.incident_command
    if command == "ack":
        return Change(status="acknowledged")
    if command == "assign":
        return Change(assignee=args.value)
    if command == "resolve":
        if args.disposition == "false_positive":
            return Change(status="false_positive")
        return Change(status="resolved", disposition=args.disposition)
    if command == "note":
        return Change(note=args.value)
    return Change(status=args.value, disposition=args.disposition)


def _actor(args: argparse.Namespace) -> str:
    if args.actor is not None:
        if not args.actor.strip():
            raise LifecycleError("--actor is empty: give a name")
        return str(args.actor.strip())
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name (a container without /etc/passwd entry)
        raise LifecycleError("cannot tell who you are: give --actor NAME") from None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def cmd_incident(args: argparse.Namespace, settings: Settings) -> int:
    hot = _hot(settings)
    if args.incident_command == "show":
        return _show(args, hot, settings)
    actor = _actor(args)
    with hot.connect() as conn:
        entries = apply_change(conn, args.id, _change(args), actor=actor)
        row = get_incident(conn, args.id)
    assert row is not None  # apply_change raised otherwise
    if entries:  # committed: the search backend follows now, or its backlog keeps it
        pending = index_change(hot, settings, args.id)
        if pending:
            sys.stderr.write(f"soc-platform: warning: {pending}\n")
    if args.json:
        _print(
            json.dumps(
                {"incident": _jsonable(row), "audit": [e.to_dict() for e in entries]}, indent=2
            )
        )
        return 0
    if not entries:
        _print(f"{args.id}: unchanged ({row['status']})")
    for e in entries:
        _print(f"{args.id}: {_describe(e)}")
    return 0


def index_change(hot: Any, settings: Settings, incident_id: str) -> str:
    """The changed incident to the search backend now (best effort): the pending line when
    the backend is out of reach, else ""."""
    from soc_platform import factory
    from soc_platform.search import backlog

    backend = factory.search_backend(hot, settings.meili_url, settings.meili_api_key)
    return backlog.index_change(hot, backend, incident_id)


def _describe(e: AuditEntry) -> str:
    if e.action == "note":
        return f"{e.actor} noted: {e.comment}"
    if e.field:
        text = f"{e.actor} {e.action} {e.field}: {e.old or '-'} -> {e.new or '-'}"
    else:
        text = f"{e.actor} {e.action} {e.old or ''} {e.new or ''}".rstrip()
    return f"{text} ({e.comment})" if e.comment and e.action != "note" else text


#: the columns of a page of events (the hot store's ``incident_events`` query)
EVENT_COLUMNS = (*PAGE_COLUMNS, "event_id")


def _events(
    hot: Any, settings: Settings, row: dict[str, Any], limit: int, page: int
) -> "EventPage":
    """A page of the incident's events: the hot store's, else the lake's past retention."""
    from soc_platform import factory
    from soc_platform.incidents.events import incident_event_page

    return incident_event_page(
        lambda n, skip: hot.incident_events(row, limit=n, offset=skip),
        factory.lake(settings),
        hot.policy,
        lo=row["start_time"],
        hi=row["end_time"],
        ips=_source_ips(row),
        columns=EVENT_COLUMNS,
        limit=limit,
        offset=(page - 1) * limit,
    )


def _source_ips(row: dict[str, Any]) -> list[str]:
    """The addresses the hot store's page reads: its client IP, else its sources."""
    import ipaddress

    found = []
    for ip in [row["client_ip"]] if row["client_ip"] else row["sources"]:
        try:
            found.append(str(ipaddress.ip_address(ip)))
        except ValueError:
            continue
    return found


def _show(args: argparse.Namespace, hot: Any, settings: Settings) -> int:
    if args.limit < 1 or args.page < 1:
        raise LifecycleError("--limit and --page must be at least 1")
    with hot.connect() as conn:
        row = get_incident(conn, args.id)
        trail = audit_trail(conn, args.id)
    if row is None:
        if not trail:
            raise LifecycleError(f"no incident {args.id!r} (soc-platform incidents lists them)")
        return _show_removed(args, trail)
    events = _events(hot, settings, row, args.limit, args.page) if args.events else None
    if args.json:
        doc: dict[str, Any] = {"incident": _jsonable(row), "audit": [e.to_dict() for e in trail]}
        if events is not None:
            doc["events"] = {
                "page": args.page,
                "limit": args.limit,
                "source": events.source,
                "note": events.note,
                "more": events.more,
                "rows": _jsonable(events.rows),
            }
        _print(json.dumps(doc, indent=2))
        return 0
    _print(f"{row['id']}  {row['rule']}  {row['severity']} ({row['score']})")
    _print(f"  {row['description']}")
    _print(
        f"  status {row['status']}"
        + (f" ({row['disposition']})" if row["disposition"] else "")
        + f", assignee {row['assignee'] or '-'}"
        + (f", reopened {row['reopened_count']}x" if row["reopened_count"] else "")
        + (f", follows {row['previous_incident']}" if row["previous_incident"] else "")
    )
    _print(
        f"  {_fmt_time(row['start_time'])} .. {_fmt_time(row['end_time'])}  "
        f"{row['event_count']} events ({row['blocked_count']} blocked)  group {row['group_key']}"
    )
    if row["attack_techniques"]:
        _print(f"  ATT&CK {', '.join(row['attack_techniques'])}; {'; '.join(row['score_reasons'])}")
    for note in row["notes"]:
        _print(f"  note: {note}")
    _print("audit:")
    for e in trail:
        own = "" if e.incident_id == row["id"] else f" [{e.incident_id}]"
        _print(f"  {_fmt_time(e.at)}  {_describe(e)}{own}")
    if events is not None:
        more = ", more on the next page" if events.more else ""
        _print(f"events (page {args.page}, {len(events.rows)} shown{more}):")
        if events.note:
            _print(f"  ({events.note})")
        for ev in events.rows:
            _print(
                f"  {_fmt_time(ev['event_time'])}  {ev['client_ip']:<16} {ev['action']:<8} "
                f"{ev['status_code'] or '-':>3} {ev['request_method'] or '-'} "
                f"{ev['host'] or ''}{ev['request_uri'] or ''}  {ev['rule_id'] or ''}"
            )
    return 0


def _show_removed(args: argparse.Namespace, trail: list[AuditEntry]) -> int:
    """An incident the engine replaced or retired: its audit trail is all that is left
    (never deleted), and says where its state went."""
    successor = next((e.new for e in reversed(trail) if e.action == "superseded"), None)
    if args.json:
        _print(
            json.dumps(
                {
                    "incident": None,
                    "superseded_by": successor,
                    "audit": [e.to_dict() for e in trail],
                },
                indent=2,
            )
        )
        return 0
    where = f"superseded by {successor}" if successor else "retired by a re-evaluation"
    _print(f"{args.id}: no longer an incident ({where}); its audit trail:")
    for e in trail:
        _print(f"  {_fmt_time(e.at)}  {_describe(e)}")
    return 0
