"""The incident lifecycle: statuses, who may move an incident where, and the audit trail.

The rules (which status may follow which, what a disposition must be) are pure functions
over :class:`State`; :func:`apply_change` applies an analyst's :class:`Change` in the
caller's transaction and appends the audit rows. The engine's side (what re-evaluation,
supersede and a new firing do to analyst state) is :mod:`soc_platform.incidents.merge`.
README "Incident lifecycle" states the policy.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from soc_platform import sql
from soc_platform.errors import LifecycleError
from soc_platform.incidents import hooks, search_queue

__all__ = [
    "CLOSED",
    "DISPOSITIONS",
    "ENGINE_STATUSES",
    "STATUSES",
    "SYSTEM",
    "AuditEntry",
    "Change",
    "Entry",
    "LifecycleError",
    "State",
    "append_audit",
    "apply_change",
    "audit_trail",
    "get_incident",
    "plan_change",
]

STATUSES = ("open", "acknowledged", "in_progress", "resolved", "false_positive", "suppressed")
CLOSED = ("resolved", "false_positive")
DISPOSITIONS = ("true_positive", "false_positive", "benign")
#: the statuses the engine itself gives an incident (allow-listed sources: suppressed)
ENGINE_STATUSES = ("open", "suppressed")
#: the actor of the engine's changes
SYSTEM = "system"

#: status -> the statuses an analyst may move it to. A closed incident is reopened (to
#: ``open``) or reclassified (resolved <-> false_positive), never worked while closed.
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "open": frozenset({"acknowledged", "in_progress", "resolved", "false_positive", "suppressed"}),
    "acknowledged": frozenset({"open", "in_progress", "resolved", "false_positive", "suppressed"}),
    "in_progress": frozenset({"open", "acknowledged", "resolved", "false_positive", "suppressed"}),
    "suppressed": frozenset({"open", "acknowledged", "in_progress", "resolved", "false_positive"}),
    "resolved": frozenset({"open", "false_positive"}),
    "false_positive": frozenset({"open", "resolved"}),
}

#: progress order: when predecessors hand their state to a successor, the most advanced wins
STATUS_RANK: Mapping[str, int] = {
    "open": 0,
    "suppressed": 1,
    "acknowledged": 2,
    "in_progress": 3,
    "resolved": 4,
    "false_positive": 5,
}


@dataclass(frozen=True)
class Change:
    """What an analyst asks for; a field left None is unchanged (``assignee=""``
    unassigns)."""

    status: str | None = None
    assignee: str | None = None
    note: str | None = None
    disposition: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One row of ``incident_audit``."""

    id: int
    incident_id: str
    at: datetime
    actor: str
    action: str
    field: str | None
    old: str | None
    new: str | None
    comment: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "incident_id": self.incident_id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "field": self.field,
            "old": self.old,
            "new": self.new,
            "comment": self.comment,
        }


@dataclass(frozen=True)
class Entry:
    """An audit row to append (its incident, time and actor are the caller's)."""

    action: str
    field: str | None = None
    old: str | None = None
    new: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class State:
    """The analyst-owned columns of an incident."""

    status: str = "open"
    assignee: str | None = None
    disposition: str | None = None
    notes: tuple[str, ...] = ()
    status_by: str = SYSTEM
    reopened_count: int = 0
    closed_at: datetime | None = None
    status_changed_at: datetime | None = None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> "State":
        return cls(
            status=row["status"],
            assignee=row.get("assignee"),
            disposition=row.get("disposition"),
            notes=tuple(row.get("notes") or ()),
            status_by=row.get("status_by") or SYSTEM,
            reopened_count=int(row.get("reopened_count") or 0),
            closed_at=row.get("closed_at"),
            status_changed_at=row.get("status_changed_at"),
        )

    def columns(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "assignee": self.assignee,
            "disposition": self.disposition,
            "notes": list(self.notes),
            "status_by": self.status_by,
            "reopened_count": self.reopened_count,
            "closed_at": self.closed_at,
            "status_changed_at": self.status_changed_at,
        }

    @property
    def analyst_owned(self) -> bool:
        """Whether an analyst set the status (the engine no longer changes it, except to
        reopen a closed incident that fires again)."""
        return self.status_by != SYSTEM


# -- the rules (pure) ------------------------------------------------------------------------


def check_status(status: str) -> None:
    if status not in STATUSES:
        raise LifecycleError(f"unknown status {status!r}: one of {', '.join(STATUSES)}")


def check_transition(old: str, new: str) -> None:
    """Raise LifecycleError unless an analyst may move an incident from ``old`` to ``new``."""
    check_status(new)
    if old != new and new not in TRANSITIONS.get(old, frozenset()):
        hint = " (reopen it first: status open)" if old in CLOSED else ""
        raise LifecycleError(f"an incident cannot go from {old} to {new}{hint}")


def closing_disposition(status: str, asked: str | None, current: str | None) -> str | None:
    """The disposition an incident has in ``status``: implied by ``false_positive``,
    required (``true_positive`` or ``benign``) by ``resolved``, none while not closed."""
    if asked is not None and asked not in DISPOSITIONS:
        raise LifecycleError(f"unknown disposition {asked!r}: one of {', '.join(DISPOSITIONS)}")
    if status == "false_positive":
        if asked not in (None, "false_positive"):
            raise LifecycleError(
                f"status false_positive means disposition false_positive, not {asked}"
            )
        return "false_positive"
    if status == "resolved":
        disposition = asked or (current if current != "false_positive" else None)
        if disposition is None:
            raise LifecycleError(
                "resolving needs a disposition: true_positive or benign (--disposition)"
            )
        if disposition == "false_positive":
            raise LifecycleError(
                "a false positive is closed with status false_positive, not resolved"
            )
        return disposition
    if asked is not None:
        raise LifecycleError(
            f"a disposition is given when closing (resolved or false_positive), not in {status}"
        )
    return None


def plan_change(
    state: State, change: Change, *, actor: str, now: datetime
) -> tuple[State, list[Entry]]:
    """The state after an analyst's change, and the audit rows that record it. Raises
    LifecycleError for an unknown status or disposition or a forbidden transition."""
    if not actor.strip():
        raise LifecycleError("a change needs an actor")
    if actor.strip().lower() == SYSTEM:
        # the engine's own name: a status set under it would be taken for the engine's
        # and changed back by the next evaluation
        raise LifecycleError(f"the actor {SYSTEM!r} is the engine's name; give your own")
    if change == Change():
        raise LifecycleError("nothing to change: give a status, assignee, note or disposition")
    entries: list[Entry] = []
    new = state
    status = change.status if change.status is not None else state.status
    check_transition(state.status, status)
    disposition = closing_disposition(status, change.disposition, state.disposition)
    if status != state.status:
        reopening = state.status in CLOSED and status not in CLOSED
        new = replace(
            new,
            status=status,
            status_by=actor,
            status_changed_at=now,
            closed_at=(
                now
                if status in CLOSED and state.status not in CLOSED
                else None
                if status not in CLOSED
                else state.closed_at
            ),
            reopened_count=state.reopened_count + (1 if reopening else 0),
        )
        entries.append(Entry("reopened" if reopening else "status", "status", state.status, status))
    elif change.status is not None and state.status_by == SYSTEM:
        # confirming the engine's status makes it the analyst's (the engine keeps off it)
        new = replace(new, status_by=actor, status_changed_at=now)
        entries.append(Entry("status", "status", state.status, status, "confirmed"))
    if disposition != state.disposition:
        new = replace(new, disposition=disposition)
        entries.append(Entry("disposition", "disposition", state.disposition, disposition))
    if change.assignee is not None:
        assignee = change.assignee.strip() or None
        if assignee != state.assignee:
            new = replace(new, assignee=assignee)
            entries.append(Entry("assign", "assignee", state.assignee, assignee))
    if change.note is not None:
        note = change.note.strip()
        if not note:
            raise LifecycleError("a note needs some text")
        new = replace(new, notes=(*new.notes, note))
        entries.append(Entry("note", comment=note))
    return new, entries


# -- the incident store's side (in the caller's transaction) -----------------------------------


def get_incident(conn: psycopg.Connection[Any], incident_id: str) -> dict[str, Any] | None:
    """An incident's row (every column but the search vector), or None."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.query("get_incident"), {"id": incident_id})
        return cur.fetchone()


def append_audit(
    conn: psycopg.Connection[Any],
    rows: Sequence[tuple[str, str, Entry]],
) -> list[AuditEntry]:
    """Append audit rows ``(incident_id, actor, entry)`` in one statement, in order."""
    if not rows:
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            sql.query("insert_incident_audit"),
            {
                "incident_ids": [r[0] for r in rows],
                "actors": [r[1] for r in rows],
                "actions": [r[2].action for r in rows],
                "fields": [r[2].field for r in rows],
                "olds": [r[2].old for r in rows],
                "news": [r[2].new for r in rows],
                "comments": [r[2].comment for r in rows],
            },
        )
        return sorted((AuditEntry(**r) for r in cur.fetchall()), key=lambda e: e.id)


def apply_change(
    conn: psycopg.Connection[Any], incident_id: str, change: Change, *, actor: str
) -> list[AuditEntry]:
    """Validate an analyst's change, update the incident and append its audit rows, all in
    the caller's transaction (the caller commits). Returns the audit rows appended (none
    when the change changes nothing). Raises LifecycleError on an unknown incident, status
    or disposition or a forbidden transition."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.query("lock_incident"), {"id": incident_id})
        row = cur.fetchone()
        if row is None:
            raise LifecycleError(f"no incident {incident_id!r} (soc-platform incidents lists them)")
        state = State.of(row)
        new, entries = plan_change(state, change, actor=actor, now=row["now"])
        if not entries and new == state:
            return []
        cur.execute(sql.query("update_incident_state"), {"id": incident_id, **new.columns()})
        if len(new.notes) > len(state.notes):  # a note: searchable (embedded search) at once
            cur.execute(
                sql.query("add_incident_note_text"), {"id": incident_id, "note": new.notes[-1]}
            )
            cur.execute(sql.query("add_incident_terms"), {"ids": [incident_id]})
    appended = append_audit(conn, [(incident_id, actor, e) for e in entries])
    hooks.after_change(conn, incident_id, state.status, new.status, actor)
    # the search backend's copy follows (search/backlog.py), committed with the change
    search_queue.enqueue(conn, upserts=[incident_id])
    return appended


def audit_trail(conn: psycopg.Connection[Any], incident_id: str) -> list[AuditEntry]:
    """An incident's audit rows, oldest first, with those of the incidents it superseded
    (and theirs: the lineage of ``inherited`` rows)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.query("incident_audit_trail"), {"id": incident_id})
        return [AuditEntry(**r) for r in cur.fetchall()]
