"""``alerts``: drain the outbox, list dead letters, manage silences (README "Alerting")."""

import argparse
import getpass
import json
from typing import Any

from soc_platform.cli.common import _fmt_time, _hot, _print
from soc_platform.errors import ConfigurationError
from soc_platform.settings import Settings


def add_parser(sub: Any) -> None:
    alerts = sub.add_parser("alerts", help="alert notifications: send, dead letters, silences")
    asub = alerts.add_subparsers(dest="alerts_command", required=True)
    send = asub.add_parser("send", help="deliver every due notification of the outbox once")
    send.add_argument("--json", action="store_true")
    dead = asub.add_parser("dead", help="notifications that kept failing (dead letters)")
    dead.add_argument("--json", action="store_true")
    dead.add_argument("--limit", type=int, default=100)
    dead.add_argument("--retry", metavar="ID", type=int, help="send this dead letter again")
    dead.add_argument("--retry-all", action="store_true", help="send every dead letter again")
    status = asub.add_parser("status", help="outbox counts by status")
    status.add_argument("--json", action="store_true")
    silence = asub.add_parser("silence", help="silences: hold matching notifications")
    ssub = silence.add_subparsers(dest="silence_command", required=True)
    add = ssub.add_parser("add", help="add a silence: soc-platform alerts silence add rule=X")
    add.add_argument("matchers", nargs="+", metavar="NAME=VALUE")
    add.add_argument("--for", dest="duration", default="2h", help="how long (e.g. 30m, 2h, 1d)")
    add.add_argument("--comment", required=True, help="why (shown in the list)")
    add.add_argument("--by", dest="created_by", help="who (default: the OS user)")
    lst = ssub.add_parser("list", help="active silences (--all: expired ones too)")
    lst.add_argument("--all", action="store_true")
    lst.add_argument("--json", action="store_true")
    exp = ssub.add_parser("expire", help="end a silence now")
    exp.add_argument("id", type=int)


def cmd_alerts(args: argparse.Namespace, settings: Settings) -> int:
    from soc_platform.alerts import outbox

    hot = _hot(settings)
    command = args.alerts_command
    if command == "send":
        return _send(args, settings, hot)
    if command == "status":
        with hot.connect() as conn:
            found = outbox.counts(conn)
        configured = settings.alerts is not None
        if args.json:
            _print(json.dumps({"configured": configured, **found}, indent=2))
        else:
            where = settings.alerts.source if settings.alerts else "not configured"
            _print(f"alerting: {where}")
            _print("  " + ", ".join(f"{k} {v}" for k, v in found.items()))
        return 0
    if command == "dead":
        with hot.connect() as conn:
            if args.retry is not None or args.retry_all:
                n = outbox.retry_dead(conn, args.retry)
                _print(f"{n} dead notification(s) pending again (soc-platform alerts send)")
                return 0
            rows = outbox.dead_letters(conn, args.limit)
        if args.json:
            _print(json.dumps(rows, indent=2, default=str))
            return 0
        if not rows:
            _print("no dead notifications")
            return 0
        for r in rows:
            _print(
                f"{r['id']:>6}  {r['destination']:<16} {r['event']:<8} {r['incident_id']}  "
                f"{r['attempts']} attempts  {_fmt_time(r['created_at'])}"
            )
            _print(f"        {r['last_error']}")
        return 0
    return _silence(args, hot)


def _send(args: argparse.Namespace, settings: Settings, hot: Any) -> int:
    from soc_platform.alerts import sender

    if settings.alerts is None:
        raise ConfigurationError(
            "alerting is not configured: set SOC_ALERT_WEBHOOK_URL, or SOC_ALERT_ROUTES to a "
            'routes file (README "Alerting")'
        )
    report = sender.drain(hot.connect, settings.alerts)
    if args.json:
        _print(json.dumps(report.as_dict(), indent=2))
    else:
        _print(
            f"sent {report.sent} notification(s) in {report.messages} message(s); "
            f"{report.failed} failed attempt(s), {report.dead} dead, {report.deferred} "
            "held by a rate limit"
        )
        for line in report.errors[:10]:
            _print(f"  {line}")
    return 0


def _silence(args: argparse.Namespace, hot: Any) -> int:
    from soc_platform.alerts import outbox
    from soc_platform.alerts.silences import parse_matchers
    from soc_platform.correlation.config import parse_duration

    command = args.silence_command
    with hot.connect() as conn:
        if command == "add":
            matchers = parse_matchers(args.matchers)
            try:
                duration = parse_duration(args.duration)
            except ConfigurationError as exc:
                raise ConfigurationError(f"--for {exc}") from None
            if not duration:
                raise ConfigurationError("--for must be longer than 0")
            created_by = args.created_by or getpass.getuser()
            sid, ends = outbox.add_silence(conn, matchers, duration, args.comment, created_by)
            _print(f"silence {sid} until {_fmt_time(ends)}")
            return 0
        if command == "expire":
            if not outbox.expire_silence(conn, args.id):
                raise ConfigurationError(
                    f"no active silence {args.id} (soc-platform alerts silence list)"
                )
            _print(f"silence {args.id} expired")
            return 0
        found = outbox.list_silences(conn, include_expired=args.all)
    if args.json:
        _print(json.dumps([s.__dict__ for s in found], indent=2, default=str))
        return 0
    if not found:
        _print("no active silences")
    for s in found:
        state = "" if s.active else "  (expired)"
        shown = " ".join(f"{k}={v}" for k, v in sorted(s.matchers.items()))
        _print(f"{s.id:>4}  {shown}  until {_fmt_time(s.ends_at)}  by {s.created_by}{state}")
        _print(f"      {s.comment}")
    return 0
