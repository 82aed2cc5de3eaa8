"""Unit tests for the pure landing-file decisions (soc_platform.sources.planning): backoff, batches,
bisection of failed batches, quarantine only with evidence, claims, the bounded cursor."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soc_platform.models import FileState, LandingFile, LedgerEntry, SourceHealth
from soc_platform.sources.planning import (
    ClaimView,
    LedgerSummary,
    RetryPolicy,
    RunOutcome,
    Verdict,
    backoff,
    batch_files,
    judge_claim,
    next_cursor,
    outage_suspected,
    plan_batches,
    record_failure,
    skip_reason,
    to_quarantine,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(base_seconds=60, max_seconds=1800, quarantine_after=3)


def entry(name: str, mtime: int = 1, size: int = 100, **kw: object) -> LedgerEntry:
    base = LedgerEntry("local", f"/landing/{name}", f"{size}:{mtime}", size, mtime)
    return replace(base, **kw)  # type: ignore[arg-type]


# -- backoff and batches ---------------------------------------------------------------------


def test_backoff_doubles_per_failure_up_to_the_cap() -> None:
    waits = [backoff(n, POLICY).total_seconds() for n in range(1, 9)]
    assert waits == [60, 120, 240, 480, 960, 1800, 1800, 1800]
    assert backoff(0, POLICY) == timedelta(seconds=60)
    assert backoff(10_000, POLICY) == timedelta(seconds=1800)  # no overflow
    assert backoff(5, RetryPolicy(base_seconds=0, max_seconds=0)) == timedelta(0)


def test_runs_are_bounded_by_bytes_but_take_at_least_one_file() -> None:
    files = [LandingFile(f"/landing/{i}.jsonl", size, i) for i, size in enumerate([40, 50, 30])]
    assert [f.path for f in batch_files(files, max_bytes=100)] == [
        "/landing/0.jsonl",
        "/landing/1.jsonl",
    ]
    huge = [LandingFile("/landing/huge.jsonl", 10**12, 0), *files]
    assert [f.path for f in batch_files(huge, max_bytes=100)] == ["/landing/huge.jsonl"]


def test_pending_files_are_batched_oldest_first() -> None:
    files = [entry("c.jsonl", mtime=30), entry("a.jsonl", mtime=20), entry("b.jsonl", mtime=20)]
    (batch,) = plan_batches(files, T0, POLICY)
    assert batch.paths == ["/landing/a.jsonl", "/landing/b.jsonl", "/landing/c.jsonl"]
    assert batch.attempt == 1
    assert batch.token.startswith("microbatch-") and batch.token.endswith("-a1")


def test_batches_respect_max_files_max_bytes_and_max_runs() -> None:
    files = [entry(f"f{i:02d}.jsonl", mtime=i) for i in range(7)]
    policy = replace(POLICY, max_files=3, max_runs=2)
    batches = plan_batches(files, T0, policy)
    assert [len(b.files) for b in batches] == [3, 3]  # the seventh waits for the next tick
    assert plan_batches(files, T0, policy, max_runs=10)[-1].paths == ["/landing/f06.jsonl"]
    by_bytes = plan_batches(files, T0, replace(POLICY, max_bytes=250))
    assert [len(b.files) for b in by_bytes] == [2, 2, 2, 1]


def test_tokens_differ_per_claim_time_and_name_the_attempt() -> None:
    files = [entry("a.jsonl"), entry("b.jsonl")]
    first = plan_batches(files, T0, POLICY)[0].token
    again = plan_batches(files, T0 + timedelta(seconds=1), POLICY)[0].token
    assert first != again  # a batch claimed again gets a new run key
    failed = [replace(f, state=FileState.FAILED, attempts=2, retry_group="g") for f in files]
    assert plan_batches(failed, T0, POLICY)[0].token.endswith("-a3")
    assert plan_batches(files, T0, POLICY, prefix="cli")[0].token.startswith("cli-")


def test_failed_groups_come_first_each_alone_and_only_when_due() -> None:
    pending = [entry("new1.jsonl", mtime=1), entry("new2.jsonl", mtime=2)]
    due = {"state": FileState.FAILED, "attempts": 1, "next_attempt_at": T0 - timedelta(seconds=1)}
    half_a = [entry(f"a{i}.jsonl", mtime=10 + i, retry_group="t.0", **due) for i in range(2)]
    half_b = [entry(f"b{i}.jsonl", mtime=20 + i, retry_group="t.1", **due) for i in range(2)]
    later = entry(
        "later.jsonl", state=FileState.FAILED, attempts=1, next_attempt_at=T0 + timedelta(1)
    )
    claimed = entry("held.jsonl", state=FileState.CLAIMED, claim="x")
    quarantined = entry("q.jsonl", state=FileState.QUARANTINED)
    batches = plan_batches(
        [*pending, *half_a, *half_b, later, claimed, quarantined], T0, POLICY, max_runs=10
    )
    assert [b.paths for b in batches] == [
        ["/landing/a0.jsonl", "/landing/a1.jsonl"],
        ["/landing/b0.jsonl", "/landing/b1.jsonl"],
        ["/landing/new1.jsonl", "/landing/new2.jsonl"],
    ]
    assert [b.attempt for b in batches] == [2, 2, 1]


# -- failures: bisection and backoff -------------------------------------------------------------


def test_a_failed_batch_is_retried_whole_then_halved() -> None:
    files = [
        entry(f"f{i}.jsonl", mtime=i, state=FileState.CLAIMED, claimed_at=T0) for i in range(5)
    ]
    first = record_failure(files, "tok", "boom", T0, SourceHealth(), POLICY)
    assert not first.split and first.fresh and first.tried_at == T0
    assert {f.retry_group for f in first.files} == {"tok"}  # one group, retried whole
    for f in first.files:
        assert f.state is FileState.FAILED and f.claim is None and f.claimed_at is None
        assert (f.attempts, f.alone_failures, f.last_error) == (1, 0, "boom")
        assert f.first_failed_at == f.last_failed_at == T0
        assert f.next_attempt_at == T0 + timedelta(seconds=60)
    t1 = T0 + timedelta(minutes=2)
    again = [replace(f, state=FileState.CLAIMED, claimed_at=t1) for f in first.files]
    second = record_failure(again, "tok2", "boom", t1, SourceHealth(), POLICY)
    assert second.split and not second.fresh  # halved even with no run succeeding
    assert [f.retry_group for f in second.files] == ["tok2.0"] * 3 + ["tok2.1"] * 2
    assert {f.next_attempt_at for f in second.files} == {t1 + timedelta(seconds=60)}
    assert {f.first_failed_at for f in second.files} == {T0}


def test_a_group_that_failed_again_without_any_success_since_is_not_halved() -> None:
    """Nothing succeeds: an outage, not the files. The group is retried whole, later."""
    t1 = T0 - timedelta(minutes=5)
    failed = [
        entry(f"f{i}.jsonl", mtime=i, state=FileState.CLAIMED, attempts=2, retry_group="g",
              first_failed_at=t1, last_failed_at=t1)
        for i in range(4)
    ]  # fmt: skip
    outage = SourceHealth(last_success_at=t1 - timedelta(hours=1), last_fresh_failure_at=t1)
    record = record_failure(failed, "tok2", "down", T0, outage, POLICY)
    assert not record.split and not record.fresh
    assert {f.retry_group for f in record.files} == {"g"}
    assert {f.next_attempt_at for f in record.files} == {T0 + timedelta(seconds=240)}
    assert {f.first_failed_at for f in record.files} == {t1}
    # ... but halved once some run succeeded after its last failure
    recovered = replace(outage, last_success_at=t1 + timedelta(seconds=30))
    again = record_failure(failed, "tok3", "bad", T0, recovered, POLICY)
    assert again.split and {f.retry_group for f in again.files} == {"tok3.0", "tok3.1"}


def test_a_file_failing_alone_counts_only_failures_while_other_runs_succeed() -> None:
    f = entry("bad.jsonl", state=FileState.CLAIMED, claimed_at=T0)
    waits = []
    now = T0
    for _ in range(4):  # another run succeeds after each attempt starts: evidence
        health = SourceHealth(last_success_at=now + timedelta(seconds=5))
        (f,) = record_failure([f], "t", "boom", now + timedelta(minutes=1), health, POLICY).files
        waits.append((f.next_attempt_at - now).total_seconds() - 60)  # type: ignore[operator]
        assert f.last_failed_at == now  # the attempt's claim time
        now += timedelta(hours=1)
        f = replace(f, state=FileState.CLAIMED, claimed_at=now)
    assert f.alone_failures == 4 and f.attempts == 4 and f.retry_group is None
    assert waits == [60, 120, 240, 480]
    assert f.first_failed_at == T0


def test_a_file_failing_alone_during_an_outage_is_not_held_against_it() -> None:
    f = entry("lonely.jsonl", state=FileState.CLAIMED, claimed_at=T0)
    health = SourceHealth(last_success_at=T0 - timedelta(days=1))
    for i in range(5):
        now = T0 + timedelta(hours=i)
        f = replace(f, state=FileState.CLAIMED, claimed_at=now)
        (f,) = record_failure([f], "t", "down", now, health, POLICY).files
    assert (f.attempts, f.alone_failures) == (5, 0)
    assert f.next_attempt_at == T0 + timedelta(hours=4, seconds=960)  # backoff by attempts
    assert to_quarantine([f], SourceHealth(last_success_at=T0 + timedelta(days=1)), POLICY) == []


# -- quarantine -----------------------------------------------------------------------------------


def bad(alone: int, first: datetime = T0) -> LedgerEntry:
    return entry(
        "bad.jsonl", state=FileState.FAILED, attempts=alone, alone_failures=alone,
        first_failed_at=first, last_failed_at=first,
    )  # fmt: skip


def test_quarantine_needs_enough_alone_failures_and_a_success_after_the_first() -> None:
    after = SourceHealth(last_success_at=T0 + timedelta(minutes=1))
    assert to_quarantine([bad(3)], after, POLICY) == [bad(3)]
    assert to_quarantine([bad(2)], after, POLICY) == []
    before = SourceHealth(last_success_at=T0 - timedelta(minutes=1))
    assert to_quarantine([bad(5)], before, POLICY) == []  # nothing worked since: no evidence
    assert to_quarantine([bad(5)], SourceHealth(), POLICY) == []
    claimed = replace(bad(5), state=FileState.CLAIMED)
    assert to_quarantine([claimed], after, POLICY) == []


def test_no_quarantine_while_fresh_batches_fail_after_the_last_success() -> None:
    health = SourceHealth(
        last_success_at=T0 + timedelta(minutes=1), last_fresh_failure_at=T0 + timedelta(minutes=2)
    )
    assert outage_suspected(health)
    assert to_quarantine([bad(9)], health, POLICY) == []
    assert not outage_suspected(replace(health, last_success_at=T0 + timedelta(minutes=3)))
    assert outage_suspected(SourceHealth(last_fresh_failure_at=T0))


# -- claims ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run", "alive", "age_s", "verdict"),
    [
        (RunOutcome.FAILED, None, 10, Verdict.FAILED),
        (RunOutcome.CANCELED, None, 10, Verdict.FAILED),
        (RunOutcome.ACTIVE, None, 10_000, Verdict.KEEP),  # queued or running: never expires
        (RunOutcome.ACTIVE, False, 10, Verdict.FAILED),  # a `soc-platform run` killed -9
        (RunOutcome.SUCCEEDED, None, 10, Verdict.RELEASE),  # ended without retiring them
        (None, None, 10, Verdict.KEEP),  # the sensor's run is not created yet
        (None, None, 301, Verdict.RELEASE),  # ... and never was
        (None, True, 10_000, Verdict.KEEP),  # a live `soc-platform run` before its run starts
        (None, False, 10, Verdict.FAILED),
    ],
)
def test_claims_are_judged_by_their_run_and_holder(
    run: RunOutcome | None, alive: bool | None, age_s: int, verdict: Verdict
) -> None:
    view = ClaimView("tok", T0 - timedelta(seconds=age_s), (entry("a.jsonl"),), run, alive)
    assert judge_claim(view, T0, POLICY) is verdict


# -- the sensor's words and cursor ------------------------------------------------------------


def test_skip_reasons_say_why() -> None:
    assert skip_reason(LedgerSummary()) == "landing directory is empty"
    assert skip_reason(LedgerSummary(observed=3, claimed=3)) == (
        "no new landing files (3 held by runs in flight)"
    )
    text = skip_reason(
        LedgerSummary(
            observed=2, waiting=2, next_retry=T0, quarantined=1, outage=True,
            last_success_at=T0 - timedelta(hours=2),
        )
    )  # fmt: skip
    assert text.startswith("no new landing files (2 failed, next retry at 12:00:00Z; 1 quarantined")
    assert "no run has succeeded since 2026-03-01 10:00:00Z: looks like an outage" in text


@pytest.mark.parametrize("cursor", [None, "", "not json", "[1]", '{"done": ["a|1|2"]}', "42"])
def test_cursor_is_a_tick_counter_whatever_came_before(cursor: str | None) -> None:
    assert json.loads(next_cursor(cursor, T0)) == {"tick": 1, "at": T0.isoformat()}


def test_cursor_stays_small_however_long_it_runs() -> None:
    cursor = None
    for i in range(5000):
        cursor = next_cursor(cursor, T0 + timedelta(minutes=i))
    assert cursor is not None and json.loads(cursor)["tick"] == 5000
    assert len(cursor) < 80


# -- the whole loop, simulated ---------------------------------------------------------------------


def simulate(
    names: list[str],
    fails: "callable[[list[str], int], bool]",  # type: ignore[valid-type]
    ticks: int,
    policy: RetryPolicy,
    traffic: bool = False,
) -> tuple[set[str], set[str], dict[str, LedgerEntry], int]:
    """Run the sensor's loop with the pure functions and an in-memory ledger: each tick
    (one minute) a new file lands if ``traffic``, quarantines are applied, then batches
    are planned and run (a run fails when ``fails(paths, tick)``; the failure is noticed at
    the next tick). Returns (done, quarantined, left, runs)."""
    ledger = {f"/landing/{n}": entry(n, mtime=i) for i, n in enumerate(names)}
    health = SourceHealth()
    done: set[str] = set()
    quarantined: set[str] = set()
    runs = 0
    for tick in range(ticks):
        now = T0 + timedelta(minutes=tick)
        if traffic and tick < ticks - 10:
            name = f"live-{tick:04d}.jsonl"
            ledger[f"/landing/{name}"] = entry(name, mtime=10_000 + tick)
        for f in to_quarantine(ledger.values(), health, policy):
            quarantined.add(f.path)
            del ledger[f.path]
        # claimed at the tick; runs then execute one after the other, a second each
        for i, batch in enumerate(plan_batches(ledger.values(), now, policy)):
            runs += 1
            held = [replace(f, state=FileState.CLAIMED, claimed_at=now) for f in batch.files]
            if fails(batch.paths, tick):
                # noticed at the next tick
                later = now + timedelta(minutes=1)
                record = record_failure(held, batch.token, "x", later, health, policy)
                ledger.update({f.path: f for f in record.files})
                if record.fresh:
                    health = replace(health, last_fresh_failure_at=record.tried_at)
            else:
                done.update(batch.paths)
                for p in batch.paths:
                    del ledger[p]
                health = replace(health, last_success_at=now + timedelta(seconds=i + 1))
    return done, quarantined, ledger, runs


FAST = RetryPolicy(base_seconds=60, max_seconds=600, quarantine_after=3, max_files=64)


@settings(max_examples=40, deadline=None, database=None)
@given(st.integers(1, 200), st.data())
def test_one_bad_file_is_isolated_and_quarantined_while_the_others_go_through(
    n: int, data: st.DataObject
) -> None:
    """WAFs ship all the time: other runs keep succeeding while the bad file is retried."""
    names = [f"f{i:03d}.jsonl" for i in range(n)]
    bad_name = "/landing/" + data.draw(st.sampled_from(names))
    done, quarantined, left, _ = simulate(
        names, lambda p, t: bad_name in p, 200, FAST, traffic=True
    )
    assert quarantined == {bad_name}
    assert {f"/landing/{x}" for x in names} - {bad_name} <= done
    assert not left  # nothing forgotten, nothing stuck
    assert not any("live" in p for p in quarantined)


def test_a_bad_file_in_a_quiet_platform_keeps_being_retried_not_quarantined() -> None:
    """Nothing else runs, so nothing shows the platform works: no evidence against the
    file. It stays failed, retried with capped backoff (and listed as such)."""
    names = [f"f{i:03d}.jsonl" for i in range(5)]
    done, quarantined, left, runs = simulate(
        names, lambda p, t: "/landing/f002.jsonl" in p, 300, FAST
    )
    assert done == {f"/landing/{x}" for x in names} - {"/landing/f002.jsonl"}
    assert quarantined == set() and list(left) == ["/landing/f002.jsonl"]
    assert left["/landing/f002.jsonl"].state is FileState.FAILED
    assert runs < 40  # capped backoff: about one try per 10 minutes, not one per tick


@settings(max_examples=25, deadline=None, database=None)
@given(st.integers(1, 150), st.integers(1, 120))
def test_an_outage_quarantines_nothing_and_everything_goes_through_after(
    n: int, outage_ticks: int
) -> None:
    names = [f"f{i:03d}.jsonl" for i in range(n)]
    done, quarantined, left, _ = simulate(names, lambda p, t: t < outage_ticks, 400, FAST)
    assert quarantined == set()
    assert done == {f"/landing/{x}" for x in names} and not left


def test_an_outage_does_not_shred_batches_into_single_files() -> None:
    names = [f"f{i:03d}.jsonl" for i in range(64)]
    _, _, left, _ = simulate(names, lambda p, t: True, 300, FAST)
    groups = {f.retry_group for f in left.values()}
    assert len(groups) == 2  # halved once (a fresh failure), then retried whole
    assert {f.alone_failures for f in left.values()} == {0}


@pytest.mark.parametrize("n", [2, 7, 64, 500])
def test_bisection_finds_the_bad_file_in_logarithmically_many_runs(n: int) -> None:
    names = [f"f{i:03d}.jsonl" for i in range(n)]
    policy = replace(FAST, max_files=500)
    bad_name = f"/landing/f{n // 3:03d}.jsonl"
    for ticks in range(1, 100):
        done, _, left, runs = simulate(names, lambda p, t: bad_name in p, ticks, policy)
        if list(left) == [bad_name]:
            break
    assert done == {f"/landing/{x}" for x in names} - {bad_name}
    # the first batch and its whole retry, then per level of halving a failed half and its
    # good sibling (and maybe one retry of the isolated file before the last sibling)
    assert runs <= 2 * (n - 1).bit_length() + 3
