"""The lifecycle's pure rules: transitions, dispositions, the audit rows of a change, and
what the engine's writes do to analyst state."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from soc_platform.errors import LifecycleError
from soc_platform.incidents.lifecycle import (
    CLOSED,
    STATUSES,
    TRANSITIONS,
    Change,
    Entry,
    State,
    check_transition,
    closing_disposition,
    plan_change,
)
from soc_platform.incidents.merge import Plan, Stored, inherit, plan_engine_write
from soc_platform.incidents.stats import RuleStats, noisy_rules
from soc_platform.models import Incident

NOW = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_every_status_has_its_transitions_and_closed_ones_only_reopen_or_reclassify() -> None:
    assert set(TRANSITIONS) == set(STATUSES)
    for old in STATUSES:
        for new in STATUSES:
            allowed = old == new or new in TRANSITIONS[old]
            if old in CLOSED:
                assert allowed == (new in (old, "open", *CLOSED))
            else:
                assert allowed  # an open incident may go anywhere
            if allowed:
                check_transition(old, new)
            else:
                with pytest.raises(LifecycleError, match="reopen it first"):
                    check_transition(old, new)


@pytest.mark.parametrize(
    ("status", "asked", "current", "expected"),
    [
        ("false_positive", None, None, "false_positive"),  # implied
        ("false_positive", "false_positive", None, "false_positive"),
        ("resolved", "benign", None, "benign"),
        ("resolved", None, "true_positive", "true_positive"),  # kept while resolved
        ("open", None, "benign", None),  # not closed: none
    ],
)
def test_dispositions(status: str, asked: str | None, current: str | None, expected: str) -> None:
    assert closing_disposition(status, asked, current) == expected


@pytest.mark.parametrize(
    ("status", "asked", "current", "error"),
    [
        ("resolved", None, None, "resolving needs a disposition"),
        ("resolved", None, "false_positive", "resolving needs a disposition"),
        ("resolved", "false_positive", None, "closed with status false_positive"),
        ("false_positive", "benign", None, "means disposition false_positive"),
        ("acknowledged", "benign", None, "given when closing"),
        ("resolved", "maybe", None, "unknown disposition 'maybe'"),
    ],
)
def test_refused_dispositions(
    status: str, asked: str | None, current: str | None, error: str
) -> None:
    with pytest.raises(LifecycleError, match=error):
        closing_disposition(status, asked, current)


def test_a_change_gives_its_state_and_audit_rows() -> None:
    state = State()
    new, entries = plan_change(
        state,
        Change(status="in_progress", assignee="alice", note=" looking "),
        actor="bob",
        now=NOW,
    )
    assert (new.status, new.status_by, new.assignee, new.notes) == (
        "in_progress",
        "bob",
        "alice",
        ("looking",),
    )
    assert entries == [
        Entry("status", "status", "open", "in_progress"),
        Entry("assign", "assignee", None, "alice"),
        Entry("note", comment="looking"),
    ]
    closed, entries = plan_change(new, Change(status="false_positive"), actor="bob", now=NOW)
    assert (closed.closed_at, closed.disposition) == (NOW, "false_positive")
    assert entries[-1] == Entry("disposition", "disposition", None, "false_positive")
    # unassigning, and a change that changes nothing
    same, entries = plan_change(closed, Change(assignee="alice"), actor="bob", now=NOW)
    assert (same, entries) == (closed, [])
    gone, entries = plan_change(closed, Change(assignee=""), actor="bob", now=NOW)
    assert gone.assignee is None and entries == [Entry("assign", "assignee", "alice", None)]


def test_confirming_the_engines_status_takes_it_over() -> None:
    new, entries = plan_change(State(), Change(status="open"), actor="alice", now=NOW)
    assert (new.status, new.status_by) == ("open", "alice")
    assert entries == [Entry("status", "status", "open", "open", "confirmed")]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (Change(), "nothing to change"),
        (Change(note="   "), "a note needs some text"),
        (Change(status="done"), "unknown status"),
    ],
)
def test_refused_changes(change: Change, error: str) -> None:
    with pytest.raises(LifecycleError, match=error):
        plan_change(State(), change, actor="alice", now=NOW)
    with pytest.raises(LifecycleError, match="needs an actor"):
        plan_change(State(), Change(note="x"), actor=" ", now=NOW)
    # a status set as "system" would be the engine's, changed back at the next evaluation
    with pytest.raises(LifecycleError, match="the engine's name"):
        plan_change(State(), Change(status="suppressed"), actor="System", now=NOW)


# -- the engine's side --------------------------------------------------------------------


def incident(
    start: datetime, *, status: str = "open", minutes: int = 5, ip: str = "1.2.3.4"
) -> Incident:
    end = start + timedelta(minutes=minutes)
    return Incident(
        id=f"inc-{ip}-{start:%H%M}",
        type="sql_injection",
        rule="waf-sqli-burst",
        severity="high",
        client_ip=ip,
        targets=[],
        start_time=start,
        end_time=end,
        window_start=start,
        window_end=end,
        event_count=12,
        blocked_count=12,
        rule_ids=[],
        description="",
        attack_techniques=[],
        group_key=ip,
        status=status,
    )


def stored(inc: Incident, state: State, end: datetime | None = None) -> Stored:
    return Stored(
        inc.id,
        inc.rule,
        inc.group_key,
        inc.window_start,
        inc.window_end,
        end or inc.end_time,
        state,
    )


def worked(status: str, by: str = "alice", **kw: object) -> State:
    disposition = {"resolved": "true_positive", "false_positive": "false_positive"}.get(status)
    return replace(
        State(status=status, status_by=by, disposition=disposition, status_changed_at=T0), **kw
    )


def plan(
    incidents: list[Incident],
    existing: dict[str, Stored] | None = None,
    removed: list[tuple[Stored, str | None]] | None = None,
    previous: dict[str, Stored] | None = None,
) -> Plan:
    return plan_engine_write(
        incidents,
        existing or {},
        removed or [],
        previous or {},
        now=NOW,
        reopen_window=timedelta(hours=24),
    )


def test_the_engine_never_overwrites_analyst_status_but_owns_its_own() -> None:
    inc = incident(T0, status="suppressed")
    p = plan([inc], existing={inc.id: stored(inc, worked("in_progress"))})
    assert p.states[inc.id].status == "in_progress" and p.audit == []
    p = plan([inc], existing={inc.id: stored(inc, State())})
    assert p.states[inc.id].status == "suppressed"
    assert p.audit == [(inc.id, "system", Entry("status", "status", "open", "suppressed"))]


def test_a_successor_inherits_the_most_advanced_status_and_every_note() -> None:
    own = State(notes=("own",))
    a = stored(incident(T0, ip="9.9.9.9"), worked("acknowledged", assignee="al", notes=("a",)))
    b = stored(incident(T0, ip="9.9.9.9"), worked("in_progress", by="bo", notes=("b",)))
    got = inherit(own, [a, b])
    assert (got.status, got.status_by, got.assignee, got.notes) == (
        "in_progress",
        "bo",
        "al",
        ("a", "b", "own"),
    )
    # engine-owned predecessors hand over nothing but their notes and assignee
    assert inherit(State(), [stored(incident(T0), State(assignee="x"))]).status == "open"


def test_a_retired_row_overlapping_a_found_incident_is_superseded_else_retired() -> None:
    new = incident(T0)
    overlapping = stored(incident(T0 + timedelta(minutes=2)), worked("acknowledged"))
    elsewhere = stored(incident(T0 + timedelta(hours=2)), State())
    p = plan([new], removed=[(overlapping, None), (elsewhere, None)])
    assert p.superseded == {overlapping.id: new.id}
    assert p.states[new.id].status == "acknowledged"
    retired = Entry("retired", comment="no longer found by a re-evaluation")
    assert (elsewhere.id, "system", retired) in p.audit


def test_reopen_policy() -> None:
    old = incident(T0)
    closed = stored(old, worked("resolved"))
    # the same incident goes on past its end: reopened
    grown = replace(old, end_time=old.end_time + timedelta(minutes=3))
    p = plan([grown], existing={old.id: closed})
    assert (p.states[old.id].status, p.states[old.id].reopened_count) == ("open", 1)
    # late events inside the span it had: stays closed
    p = plan([old], existing={old.id: stored(old, worked("resolved"), old.end_time)})
    assert p.states[old.id].status == "resolved"
    # a new run 3 hours later: the closed one is reopened, the new one linked
    later = incident(T0 + timedelta(hours=3))
    p = plan([later], previous={later.id: closed})
    assert p.reopened[old.id].status == "open" and p.previous[later.id] == old.id
    # 3 days later: not reopened, only linked
    much_later = incident(T0 + timedelta(days=3))
    p = plan([much_later], previous={much_later.id: closed})
    assert p.reopened == {} and p.previous[much_later.id] == old.id
    # an open previous incident: neither
    p = plan([later], previous={later.id: stored(old, State())})
    assert p.reopened == {} and p.previous[later.id] is None


def test_an_open_run_merged_into_a_closed_incident_reopens_it() -> None:
    """Late events join a resolved incident (10:00-10:05) and a later open one of its
    group (10:20-10:30) into one run keeping the resolved one's id: the open activity
    after what the analyst closed reopens it (it stayed resolved: the reopen test compared
    with the latest end of every predecessor, 10:30)."""
    closed_inc = incident(T0)
    open_inc = incident(T0 + timedelta(minutes=20), minutes=10)
    merged = replace(closed_inc, end_time=open_inc.end_time, window_end=open_inc.window_end)
    p = plan(
        [merged],
        existing={closed_inc.id: stored(closed_inc, worked("resolved"))},
        removed=[(stored(open_inc, State()), merged.id)],
    )
    assert (p.states[merged.id].status, p.states[merged.id].reopened_count) == ("open", 1)
    # merged with another closed one: late events inside both spans reopen nothing
    p = plan(
        [merged],
        existing={closed_inc.id: stored(closed_inc, worked("resolved"))},
        removed=[(stored(open_inc, worked("resolved")), merged.id)],
    )
    assert p.states[merged.id].status == "resolved"


def test_noisy_rules_need_enough_closed_incidents() -> None:
    stats = [
        RuleStats("quiet", 50, 20, 18, 2, 0),
        RuleStats("noisy", 40, 12, 2, 9, 1),
        RuleStats("young", 5, 3, 0, 3, 0),
    ]
    assert [s.rule for s in noisy_rules(stats, 0.5, 10)] == ["noisy"]
    assert stats[1].fp_ratio == 0.75 and RuleStats("none", 1, 0, 0, 0, 0).fp_ratio is None
