"""What the engine's writes do to analyst state (pure; README "Incident lifecycle").

The engine re-evaluates windows, supersedes incidents whose run grew and retires those it no
longer finds; none of that may lose what an analyst did. :func:`plan_engine_write` takes the
incidents an evaluation found and the stored rows they meet, and returns each incident's
analyst columns, the other incidents it reopens, and the audit rows (actor ``system``):

* analyst-owned columns (status once an analyst set it, assignee, disposition, notes) are
  never overwritten; the engine's own status (``open`` or ``suppressed``, allow-listed)
  applies only while the engine is the one that set the status;
* a successor inherits its predecessors' state (the most advanced status wins, see
  :data:`~soc_platform.incidents.lifecycle.STATUS_RANK`), with an ``inherited`` row per
  predecessor, whose own trail stays (``superseded`` row);
* a closed incident that fires again (its run goes on past the end it had when closed, or a
  new run of its rule and group starts within the reopen window after it) is reopened;
  a new run later than that is a new incident linked to it (``previous_incident``).
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from soc_platform.incidents.lifecycle import (
    CLOSED,
    ENGINE_STATUSES,
    STATUS_RANK,
    SYSTEM,
    Entry,
    State,
)
from soc_platform.models import Incident


@dataclass(frozen=True)
class Stored:
    """A stored incident an engine write meets (updated, replaced, or followed)."""

    id: str
    rule: str
    group_key: str
    window_start: datetime
    window_end: datetime
    end_time: datetime
    state: State
    previous_incident: str | None = None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> "Stored":
        return cls(
            id=row["id"],
            rule=row["rule"],
            group_key=row["group_key"],
            window_start=row["window_start"],
            window_end=row["window_end"],
            end_time=row["end_time"],
            state=State.of(row),
            previous_incident=row.get("previous_incident"),
        )


@dataclass
class Plan:
    states: dict[str, State] = field(default_factory=dict)  # incident id -> analyst columns
    previous: dict[str, str | None] = field(default_factory=dict)  # incident -> previous
    reopened: dict[str, State] = field(default_factory=dict)  # other stored incidents
    superseded: dict[str, str] = field(default_factory=dict)  # removed id -> successor
    audit: list[tuple[str, str, Entry]] = field(default_factory=list)  # (incident, actor, row)

    def log(self, incident_id: str, entry: Entry) -> None:
        self.audit.append((incident_id, SYSTEM, entry))


def reopen(state: State, now: datetime) -> State:
    """A closed incident back to ``open`` by the engine (which owns its status again)."""
    return replace(
        state,
        status="open",
        status_by=SYSTEM,
        disposition=None,
        closed_at=None,
        status_changed_at=now,
        reopened_count=state.reopened_count + 1,
    )


def _reopen_entries(state: State, comment: str) -> list[Entry]:
    entries = [Entry("reopened", "status", state.status, "open", comment)]
    if state.disposition is not None:
        entries.append(Entry("disposition", "disposition", state.disposition, None))
    return entries


def inherit(own: State, predecessors: Sequence[Stored]) -> State:
    """A successor's state from its own and its predecessors': the status (with its
    disposition and times) of the most advanced analyst-set status (ties: the latest
    change), the first assignee found that way, every note in window order."""
    ranked = sorted(
        [own, *(p.state for p in predecessors)],
        key=lambda s: (
            STATUS_RANK.get(s.status, 0),
            s.status_changed_at.timestamp() if s.status_changed_at else 0.0,
        ),
        reverse=True,
    )
    owned = [s for s in ranked if s.analyst_owned]
    state = own
    if owned:
        w = owned[0]
        state = replace(
            state,
            status=w.status,
            status_by=w.status_by,
            disposition=w.disposition,
            closed_at=w.closed_at,
            status_changed_at=w.status_changed_at,
        )
    assignee = own.assignee or next((s.assignee for s in ranked if s.assignee), None)
    notes: list[str] = []
    for p in sorted(predecessors, key=lambda p: p.window_start):
        notes += [n for n in p.state.notes if n not in notes]
    notes += [n for n in own.notes if n not in notes]
    return replace(
        state,
        assignee=assignee,
        notes=tuple(notes),
        reopened_count=max(s.reopened_count for s in ranked),
    )


def _successor(row: Stored, found: Mapping[tuple[str, str], list[Incident]]) -> str | None:
    """The incident found again that a retired row's windows overlap (its run now starts
    elsewhere), if any."""
    for inc in found.get((row.rule, row.group_key), []):
        if inc.window_start < row.window_end and row.window_start < inc.window_end:
            return inc.id
    return None


def plan_engine_write(
    incidents: Sequence[Incident],
    existing: Mapping[str, Stored],
    removed: Sequence[tuple[Stored, str | None]],
    previous: Mapping[str, Stored],
    *,
    now: datetime,
    reopen_window: timedelta,
) -> Plan:
    """Analyst columns and audit rows for an engine write.

    ``existing``: the stored rows of ``incidents`` (by id); ``removed``: the rows the write
    deletes with the id of the incident replacing them (None: retired, matched here by
    overlapping windows of the same rule and group); ``previous``: for a new incident, the
    latest stored incident of its rule and group that started before it.
    """
    plan = Plan()
    found: dict[tuple[str, str], list[Incident]] = defaultdict(list)
    for inc in incidents:
        found[(inc.rule, inc.group_key)].append(inc)
    heirs: dict[str, list[Stored]] = defaultdict(list)
    for row, successor in removed:
        successor = successor or _successor(row, found)
        if successor is None:
            plan.log(row.id, Entry("retired", comment="no longer found by a re-evaluation"))
            continue
        heirs[successor].append(row)
        plan.superseded[row.id] = successor
        plan.log(row.id, Entry("superseded", None, row.id, successor))

    for inc in sorted(incidents, key=lambda i: (i.window_start, i.id)):
        old = existing.get(inc.id)
        entries: list[Entry] = []
        if old is not None:
            state, link, seen_end = old.state, old.previous_incident, old.end_time
        else:
            state, link, seen_end = State(status=inc.status, status_changed_at=now), None, None
            entries.append(Entry("created", "status", None, inc.status, inc.suppression or None))
        predecessors = heirs.get(inc.id, [])
        if predecessors:
            state = inherit(state, predecessors)
            link = link or next(
                (p.previous_incident for p in predecessors if p.previous_incident), None
            )
            # a closed state is reopened by activity after the end of what was closed, not
            # after the latest end of every predecessor: an open predecessor merged into a
            # closed incident is new activity the analyst has not seen
            closed_ends = [
                s.end_time
                for s in ([old] if old is not None else []) + predecessors
                if s.state.status in CLOSED
            ]
            seen_end = max(closed_ends) if closed_ends else None
            entries += [
                Entry(
                    "inherited",
                    None,
                    p.id,
                    inc.id,
                    f"from {p.id}: status {p.state.status}, assignee {p.state.assignee or '-'}, "
                    f"{len(p.state.notes)} note(s)",
                )
                for p in predecessors
            ]
        if state.status in CLOSED and seen_end is not None and inc.end_time > seen_end:
            entries += _reopen_entries(
                state, f"fired again: events until {inc.end_time:%Y-%m-%d %H:%M:%SZ}"
            )
            state = reopen(state, now)
        if (
            not state.analyst_owned
            and state.status in ENGINE_STATUSES
            and state.status != inc.status
        ):
            entries.append(
                Entry("status", "status", state.status, inc.status, inc.suppression or None)
            )
            state = replace(state, status=inc.status, status_changed_at=now)
        prev = previous.get(inc.id) if old is None and not predecessors else None
        if prev is not None:
            prev_state = plan.states.get(prev.id) or plan.reopened.get(prev.id) or prev.state
            if prev_state.status in CLOSED:
                link = prev.id
                entries.append(Entry("linked", "previous_incident", None, prev.id))
                if reopen_window > timedelta(0) and inc.start_time - prev.end_time <= reopen_window:
                    for e in _reopen_entries(prev_state, f"its group fired again: {inc.id}"):
                        plan.log(prev.id, e)
                    prev_state = reopen(prev_state, now)
                    if prev.id in plan.states:
                        plan.states[prev.id] = prev_state
                    else:
                        plan.reopened[prev.id] = prev_state
        plan.states[inc.id] = state
        plan.previous[inc.id] = link
        for e in entries:
            plan.log(inc.id, e)
    return plan
