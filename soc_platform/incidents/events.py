"""An incident's raw events a page at a time: from the hot store, or from the raw lake for
days past the hot store's retention (README "Analyst UI"). The incident page and
``soc-platform incident show --events`` both choose here."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from soc_platform.hot.policy import HotPolicy

if TYPE_CHECKING:  # pyiceberg is imported by the lake read only (the CLI starts faster)
    from soc_platform.lake.iceberg import Lake

#: the columns every page of an incident's events shows (the CLI and the UI add their own)
EVENT_COLUMNS = (
    "event_time",
    "client_ip",
    "host",
    "request_method",
    "request_uri",
    "status_code",
    "user_agent",
    "rule_id",
    "rule_msg",
    "action",
)

#: a page of the hot store's rows: ``(limit, offset) -> rows``
HotRows = Callable[[int, int], list[dict[str, Any]]]


@dataclass(frozen=True)
class EventPage:
    """One page of events; ``source`` is ``hot``, ``lake`` or ``none`` (neither has them,
    or there is no lake), ``note`` says so to the reader (empty for the hot store)."""

    rows: list[dict[str, Any]]
    more: bool
    source: str
    note: str = ""


def past_retention(policy: HotPolicy, start: datetime, today: date | None = None) -> bool:
    """True when the day of ``start`` is older than the hot store keeps."""
    first = policy.first_retained_day(today or datetime.now(UTC).date())
    return first is not None and start.astimezone(UTC).date() < first


def incident_event_page(
    hot_rows: HotRows,
    lake: "Lake | None",
    policy: HotPolicy,
    *,
    lo: datetime,
    hi: datetime,
    ips: Sequence[str],
    columns: Sequence[str],
    limit: int,
    offset: int = 0,
    today: date | None = None,
) -> EventPage:
    """Events ``offset`` to ``offset + limit`` of an incident (its ``ips`` over [lo, hi]).

    The hot store answers when the incident's first day is within its retention. Past it,
    the lake does (same row shape, ``columns``, and order): the hot store may hold none of
    the incident's events, or only those of its later days (retention drops whole days).
    When the lake has none of them (or there is no lake), the hot store's rows, if any.
    """
    if not past_retention(policy, lo, today):
        rows = hot_rows(limit + 1, offset)
        return EventPage(rows[:limit], len(rows) > limit, "hot")
    from soc_platform.lake.pages import event_page

    keeps = f"the hot store keeps {policy.retention_days} days"
    if lake is not None:
        found = event_page(lake, lo, hi, ips, columns, limit=limit + 1, offset=offset)
        if found or (offset and event_page(lake, lo, hi, ips, columns, limit=1)):
            return EventPage(
                found[:limit], len(found) > limit, "lake", f"from the raw lake: {keeps}"
            )
    rows = hot_rows(limit + 1, offset)
    if rows or hot_rows(1, 0):
        where = "no lake configured" if lake is None else "not in the raw lake"
        note = f"from the hot store ({keeps}; {where}): events of older days may be missing"
        return EventPage(rows[:limit], len(rows) > limit, "hot", note)
    if lake is None:
        return EventPage(
            [], False, "none", f"not in the hot store ({keeps}) and no lake configured"
        )
    return EventPage([], False, "none", f"not in the hot store ({keeps}) nor in the raw lake")
