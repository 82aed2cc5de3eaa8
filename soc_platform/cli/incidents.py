"""``incidents`` and ``search``: the incidents table and the search backend."""

import argparse
import ipaddress
import json
import re
from datetime import UTC, date, datetime, timedelta

from soc_platform.cli.common import _fmt_time, _hot, _print
from soc_platform.correlation.scoring import LEVELS
from soc_platform.errors import ConfigurationError
from soc_platform.incidents.lifecycle import CLOSED, STATUSES
from soc_platform.incidents.tables import IncidentFilter
from soc_platform.settings import Settings

_SINCE = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def incident_filter(args: argparse.Namespace, now: datetime | None = None) -> IncidentFilter:
    """The ``incidents`` flags as a filter (one place, so that a shared query syntax can
    replace it): ``--status open,closed`` (closed = resolved and false_positive),
    ``--severity high,critical`` or ``>=high``, ``--rule NAME,...``, ``--ip ADDRESS|CIDR``,
    ``--since 24h|7d|30m|YYYY-MM-DD``."""

    def values(text: str | None) -> list[str] | None:
        return [v.strip() for v in text.split(",") if v.strip()] if text else None

    def bad(flag: str, text: str, expected: str) -> ConfigurationError:
        return ConfigurationError(f"{flag} {text!r}: expected {expected}")

    statuses = values(args.status)
    if statuses is not None:
        statuses = [s for v in statuses for s in (CLOSED if v == "closed" else (v,))]
        for s in statuses:
            if s not in STATUSES:
                raise bad("--status", s, f"one of {', '.join(STATUSES)}, closed")
    severities = values(args.severity)
    if severities is not None:
        if len(severities) == 1 and severities[0].startswith(">="):
            floor = severities[0][2:]
            if floor not in LEVELS:
                raise bad("--severity", floor, f"one of {', '.join(LEVELS)}")
            severities = list(LEVELS[LEVELS.index(floor) :])
        for level in severities:
            if level not in LEVELS:
                raise bad("--severity", level, f"one of {', '.join(LEVELS)} (or >=LEVEL)")
    network = None
    if args.ip:
        try:
            network = str(ipaddress.ip_network(args.ip, strict=False))
        except ValueError:
            raise bad("--ip", args.ip, "an address or a network (192.168.0.0/16)") from None
    since = None
    if args.since:
        match = _SINCE.match(args.since)
        if match:
            ago = timedelta(**{_UNITS[match[2]]: int(match[1])})
            since = (now or datetime.now(UTC)) - ago
        else:
            try:
                since = datetime.combine(date.fromisoformat(args.since), datetime.min.time(), UTC)
            except ValueError:
                raise bad("--since", args.since, "a duration (30m, 24h, 7d) or a day") from None
    return IncidentFilter(statuses, severities, values(args.rule), network, since)


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--status", help="open, acknowledged, ..., closed (comma-separated)")
    parser.add_argument(
        "--severity", help="low, medium, high, critical (comma-separated) or >=high"
    )
    parser.add_argument("--rule", help="rule names (comma-separated)")
    parser.add_argument("--ip", help="a source address or network (CIDR)")
    parser.add_argument("--since", help="started within (30m, 24h, 7d) or since a day")


def cmd_incidents(args: argparse.Namespace, settings: Settings) -> int:
    found = _hot(settings).list_incidents(limit=args.limit, where=incident_filter(args))
    if args.json:
        _print(json.dumps([i.to_document() for i in found], indent=2))
        return 0
    if not found:
        filtered = any(getattr(args, f) for f in ("status", "severity", "rule", "ip", "since"))
        _print("no incident matches" if filtered else "no incidents yet (run: soc-platform run)")
        return 0
    for inc in found:
        reason = f": {inc.suppression}" if inc.status == "suppressed" and inc.suppression else ""
        status = f"  [{inc.status}{reason}]" if inc.status != "open" else ""
        _print(
            f"{inc.id}  {inc.severity:<8} {inc.score:>3}  {inc.rule:<28} "
            f"{_fmt_time(inc.start_time)}  {inc.event_count:>5} events{status}"
        )
        _print(f"    {inc.description}")
        if inc.attack_techniques:
            _print(f"    ATT&CK {', '.join(inc.attack_techniques)}; {'; '.join(inc.score_reasons)}")
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from soc_platform import factory

    # the hot store is needed by the embedded backend only: do not start it otherwise
    if args.query == "reindex":
        return _reindex(args, settings)
    hot = _hot(settings) if settings.search_backend == "embedded" else None
    backend = factory.search_backend(hot, settings.meili_url, settings.meili_api_key)
    hits = backend.search(args.query, limit=args.limit, sort=args.sort)
    if args.json:
        _print(
            json.dumps(
                {"backend": backend.name, "query": args.query, "hits": [h.to_dict() for h in hits]},
                indent=2,
            )
        )
        return 0
    _print(f"{len(hits)} result(s) for {args.query!r} ({backend.name} search)")
    for hit in hits:
        _print(
            f"  {hit.id}  {hit.severity:<8} {hit.rule:<28} {hit.client_ip:<16} "
            f"{_fmt_time(hit.start_time)}"
        )
        _print(f"      {hit.description}")
    return 0


def _reindex(args: argparse.Namespace, settings: Settings) -> int:
    """``search reindex``: the search backlog drained (search/backlog.py), then every
    incident of the incidents table (the system of record) upserted into the search backend
    by id, and documents of incidents that no longer exist deleted: catches up after the
    backend was down or its index was lost. A backend out of reach fails in one line, the
    backlog kept."""
    from datetime import timedelta

    from soc_platform import factory
    from soc_platform.flow import steps

    hot = _hot(settings)
    backend = factory.search_backend(hot, settings.meili_url, settings.meili_api_key)
    drained = steps.drain_search_backlog(hot, backend)
    found = hot.list_incidents(limit=100_000_000)
    count = steps.rewrite_index(backend, found)
    pruned = 0
    if found:
        lo = min(i.start_time for i in found) - timedelta(days=366)
        hi = max(i.start_time for i in found) + timedelta(days=1)
        pruned = backend.prune(lo, hi, [i.id for i in found])
    if args.json:
        _print(
            json.dumps(
                {
                    "backend": backend.name,
                    "indexed": count,
                    "pruned": pruned,
                    "backlog_drained": drained.upserted + drained.deleted + drained.cleared,
                    "pending": drained.pending,
                }
            )
        )
    elif backend.name == "embedded":
        _print(
            f"{count} incident(s): the embedded search reads the incidents table (nothing to do)"
        )
    else:
        _print(f"{count} incident(s) indexed in {backend.name}; {pruned} stale document(s) deleted")
    return 0
