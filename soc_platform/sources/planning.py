"""Pure decisions about landing files: which go into the next runs, what a failed run
means for its files, when a file is quarantined, what the sensor says when it skips.

The record of what is done is the landing ledger (a table in the hot store, shared by
the sensor and ``soc-platform run``); these functions read ledger entries and return
what to change, so they are tested without servers.

* A file is done only when a run that held it succeeded; the run then removes it from
  landing and from the ledger.
* A failed run's files are retried after a backoff: a batch's first failure whole, then in
  halves (bisection), so a file that fails on its own is isolated in O(log n) runs while
  its neighbours succeed. After the first halving, halves are made only while the evidence
  points at the files: some run succeeded since the group last failed. Otherwise (nothing
  succeeds: an outage) the group is retried whole, with exponential backoff.
* A file is quarantined after ``quarantine_after`` failures of runs holding only it that
  happened while the platform demonstrably worked (another run succeeded since the file's
  previous attempt), and only while no batch of fresh files has failed since the last
  success. During an outage nothing is quarantined: failures without evidence are not
  held against a file.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from soc_platform.models import FileState, LandingFile, LedgerEntry, SourceHealth

MAX_FILES_PER_RUN = 500
#: A run holds its batch in memory (benchmarks/e2e.py: peak RSS 984 MB for a run of 63 MB of
#: lines; 998 MB for three runs of 32 MB in one process), so it is capped by the bytes of its
#: lines (uncompressed), not of its files on disk: a gzip file of 10 MiB may hold 150 MiB.
MAX_BYTES_PER_RUN = 48 << 20


@dataclass(frozen=True)
class RetryPolicy:
    """How failed files are retried and when one is quarantined (README "Configuration")."""

    base_seconds: int = 60  # backoff after a failure, doubling per failure
    max_seconds: int = 1800  # backoff cap
    quarantine_after: int = 3  # failures of runs holding only the file
    claim_grace_seconds: int = 300  # a claim whose run never appeared is released after this
    max_files: int = MAX_FILES_PER_RUN
    max_bytes: int = MAX_BYTES_PER_RUN  # uncompressed bytes (SOC_MAX_RUN_BYTES)
    max_runs: int = 4  # runs requested per sensor tick


def backoff(failures: int, policy: RetryPolicy) -> timedelta:
    """The wait before the next try after ``failures`` consecutive failures (>= 1)."""
    exponent = max(failures, 1) - 1
    seconds = policy.base_seconds * (2 ** min(exponent, 30))
    return timedelta(seconds=min(seconds, policy.max_seconds))


def batch_files(
    files: Sequence[LandingFile],
    max_files: int = MAX_FILES_PER_RUN,
    max_bytes: int = MAX_BYTES_PER_RUN,
) -> list[LandingFile]:
    """The first files that fit one run: at most ``max_files`` and ``max_bytes`` (but at
    least one file, however large). ``size`` is what a file counts against ``max_bytes``:
    the planners pass the bytes of its lines (uncompressed)."""
    batch: list[LandingFile] = []
    size = 0
    for f in files[:max_files]:
        if batch and size + f.size > max_bytes:
            break
        batch.append(f)
        size += f.size
    return batch


# -- claims and their runs -------------------------------------------------------------------


class RunOutcome(StrEnum):
    """A claim's run as the orchestrator reports it."""

    ACTIVE = "active"  # queued, starting or running
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class Verdict(StrEnum):
    KEEP = "keep"  # the run is (or may still be) working on it
    FAILED = "failed"  # the run failed, or its process is gone: retry later
    RELEASE = "release"  # no run took it (or it ended without retiring it): pending again


@dataclass(frozen=True)
class ClaimView:
    """A claim as observed: its files, its run (None: no run carries the token) and, for a
    claim held by a ``soc-platform run`` process, whether that process is alive (None:
    not a process claim, or on another host)."""

    token: str
    claimed_at: datetime
    files: tuple[LedgerEntry, ...]
    run: RunOutcome | None = None
    holder_alive: bool | None = None


def judge_claim(claim: ClaimView, now: datetime, policy: RetryPolicy) -> Verdict:
    """What a claim's files become, given its run and holder."""
    if claim.run in (RunOutcome.FAILED, RunOutcome.CANCELED):
        return Verdict.FAILED
    if claim.holder_alive is False:  # a killed `soc-platform run`
        return Verdict.FAILED
    if claim.run is RunOutcome.ACTIVE:
        return Verdict.KEEP
    if claim.run is RunOutcome.SUCCEEDED:
        # the run retires its files itself: anything left was not retired, so read it again
        return Verdict.RELEASE
    if claim.holder_alive is True:  # the process is alive, its run not created yet
        return Verdict.KEEP
    if now - claim.claimed_at > timedelta(seconds=policy.claim_grace_seconds):
        return Verdict.RELEASE
    return Verdict.KEEP


@dataclass(frozen=True)
class FailureRecord:
    """The ledger changes for the files of one failed claim."""

    files: tuple[LedgerEntry, ...]  # with their new state, counters and next attempt
    split: bool  # the batch was halved
    fresh: bool  # the batch held files that never failed before
    tried_at: datetime  # when the failed attempt was claimed


def record_failure(
    files: Sequence[LedgerEntry],
    token: str,
    error: str,
    now: datetime,
    health: SourceHealth,
    policy: RetryPolicy,
) -> FailureRecord:
    """Mark the files of a failed claim failed: count the failure, decide whether the
    batch is halved, and when each file is tried again.

    Failure times are the times the failed attempts were *claimed* (not when the failure
    was noticed). A run that succeeded since the files' previous attempt started (for
    fresh files: since this attempt started) is evidence that the platform worked while
    they failed: the files are to blame. With evidence, a batch is halved and a file that
    failed alone counts an ``alone_failures``; without it (an outage) a group is retried
    whole, and a lone file's failure is not held against it, both with exponential backoff.
    A batch's first failure is retried whole (most failures are transient: a kill, a
    blip; and a batch cut between its lake append and its hot load must be completed
    whole, or its halves would fail the lake/hot count check for each other); its second
    is halved anyway: that is how a bad file is found among good ones with no other runs.
    """
    ordered = sorted(files, key=_age)
    tried = min((f.claimed_at for f in ordered if f.claimed_at), default=now)
    previous = [f.last_failed_at for f in ordered if f.last_failed_at is not None]
    fresh = any(f.attempts == 0 for f in ordered)
    failed_before = max(f.attempts for f in ordered)
    last_tried = max(previous) if previous else None
    since = last_tried or tried
    evidence = health.last_success_at is not None and health.last_success_at > since
    # 1st failure: retried whole (a kill or a blip costs one run, and a batch cut between
    # its lake append and hot load is completed at once); 2nd: halved; then halved again
    # only with evidence
    split = len(ordered) > 1 and (failed_before == 1 or (failed_before > 1 and evidence))
    alone = len(ordered) == 1
    counted = alone and evidence
    half = (len(ordered) + 1) // 2
    groups = {o.retry_group for o in ordered}
    same = groups.pop() if len(groups) == 1 else None
    keep_group: str = same or token
    updated = []
    group: str | None
    for i, f in enumerate(ordered):
        attempts = f.attempts + 1
        alone_failures = f.alone_failures + (1 if counted else 0)
        if split:
            group = f"{token}.{0 if i < half else 1}"
            wait = timedelta(seconds=policy.base_seconds)  # bisection: retry soon
        else:
            group = keep_group if not alone else None
            wait = backoff(alone_failures if counted else attempts, policy)
        updated.append(
            replace(
                f,
                state=FileState.FAILED,
                claim=None,
                claimed_at=None,
                holder_host=None,
                holder_pid=None,
                holder_started=None,
                attempts=attempts,
                alone_failures=alone_failures,
                retry_group=group,
                last_error=error,
                first_failed_at=f.first_failed_at or tried,
                last_failed_at=tried,
                next_attempt_at=now + wait,
            )
        )
    return FailureRecord(tuple(updated), split, fresh, tried)


def outage_suspected(health: SourceHealth) -> bool:
    """A batch of never-failed files, claimed after the last success, failed (or nothing
    succeeded yet): failures say more about the platform than about the files."""
    if health.last_fresh_failure_at is None:
        return False
    return health.last_success_at is None or health.last_fresh_failure_at > health.last_success_at


def to_quarantine(
    failed: Iterable[LedgerEntry], health: SourceHealth, policy: RetryPolicy
) -> list[LedgerEntry]:
    """Failed files to move aside: each failed ``quarantine_after`` times alone while
    other runs succeeded, and no outage is suspected now."""
    if outage_suspected(health) or health.last_success_at is None:
        return []
    return [
        f
        for f in failed
        if f.state is FileState.FAILED
        and f.alone_failures >= policy.quarantine_after
        and f.first_failed_at is not None
        and health.last_success_at > f.first_failed_at
    ]


# -- choosing the next runs ---------------------------------------------------------------


@dataclass(frozen=True)
class PlannedBatch:
    token: str  # the claim token: the run's ``soc/claim`` tag and run key
    files: tuple[LedgerEntry, ...]
    attempt: int  # 1 for fresh files

    @property
    def paths(self) -> list[str]:
        return [f.path for f in self.files]


def _age(f: LedgerEntry) -> tuple[int, str]:
    return (f.mtime_ns, f.path)


def claim_token(files: Sequence[LedgerEntry], attempt: int, now: datetime, prefix: str) -> str:
    """A token naming one claim: the files, the attempt and the claim time (so a batch
    claimed again gets a new token, and a new Dagster run key)."""
    text = "\n".join(f"{f.source}|{f.path}|{f.version}" for f in files) + now.isoformat()
    digest = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
    return f"{prefix}-{digest}-a{attempt}"


def plan_batches(
    entries: Iterable[LedgerEntry],
    now: datetime,
    policy: RetryPolicy,
    prefix: str = "microbatch",
    max_runs: int | None = None,
    retry_now: bool = False,
    data_sizes: Mapping[str, int] | None = None,
) -> list[PlannedBatch]:
    """The next runs: failed groups whose backoff is over (each group alone, so halves
    stay apart), then pending files, oldest first, in batches of at most ``max_files``
    files and ``max_bytes`` bytes of lines. ``data_sizes`` gives a file's uncompressed
    size by path (the size on disk otherwise). ``retry_now``: failed groups are due
    whatever their backoff (an operator's ``soc-platform run``; the backoff paces the
    sensor)."""
    sizes = data_sizes or {}
    limit = policy.max_runs if max_runs is None else max_runs
    groups: dict[str, list[LedgerEntry]] = {}
    pending: list[LedgerEntry] = []
    for f in entries:
        if f.state is FileState.PENDING:
            pending.append(f)
        elif f.state is FileState.FAILED and (
            retry_now or f.next_attempt_at is None or f.next_attempt_at <= now
        ):
            groups.setdefault(f.retry_group or f"file:{f.path}", []).append(f)
    batches: list[PlannedBatch] = []
    due = sorted(groups.values(), key=lambda g: min(_retry_time(f) for f in g))
    for group in due:
        ordered = sorted(group, key=_age)
        for chunk in _chunks(ordered, policy, sizes):
            attempt = max(f.attempts for f in chunk) + 1
            batches.append(PlannedBatch(claim_token(chunk, attempt, now, prefix), chunk, attempt))
    pending.sort(key=_age)
    batches.extend(
        PlannedBatch(claim_token(chunk, 1, now, prefix), chunk, 1)
        for chunk in _chunks(pending, policy, sizes)
    )
    return batches[:limit]


def _retry_time(f: LedgerEntry) -> float:
    when = f.next_attempt_at or f.last_failed_at
    return when.timestamp() if when else 0.0


def _chunks(
    files: list[LedgerEntry], policy: RetryPolicy, sizes: Mapping[str, int]
) -> Iterable[tuple[LedgerEntry, ...]]:
    rest = files
    while rest:
        as_landing = [LandingFile(f.path, sizes.get(f.path, f.size), f.mtime_ns) for f in rest]
        n = len(batch_files(as_landing, policy.max_files, policy.max_bytes))
        yield tuple(rest[:n])
        rest = rest[n:]


# -- what the sensor says ------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerSummary:
    """Counts of the ledger after a tick's bookkeeping (for the skip reason and logs)."""

    observed: int = 0  # files listed in landing
    claimed: int = 0  # held by runs in flight
    waiting: int = 0  # failed, backoff not over
    next_retry: datetime | None = None
    quarantined: int = 0
    outage: bool = False
    last_success_at: datetime | None = None
    quarantined_now: list[str] = field(default_factory=list)


def skip_reason(summary: LedgerSummary) -> str:
    """One line saying why no run was requested."""
    if summary.observed == 0 and not summary.quarantined:
        return "landing directory is empty"
    parts = []
    if summary.claimed:
        parts.append(f"{summary.claimed} held by runs in flight")
    if summary.waiting:
        when = summary.next_retry.strftime("%H:%M:%SZ") if summary.next_retry else "soon"
        parts.append(f"{summary.waiting} failed, next retry at {when}")
    if summary.quarantined:
        parts.append(f"{summary.quarantined} quarantined (soc-platform landing list)")
    text = "no new landing files" + (f" ({'; '.join(parts)})" if parts else "")
    if summary.outage:
        since = (
            summary.last_success_at.strftime("%Y-%m-%d %H:%M:%SZ")
            if summary.last_success_at
            else "ever"
        )
        text += (
            f"; no run has succeeded since {since}: looks like an outage (hot store, lake?), "
            "so failed files are retried with backoff and none is quarantined"
        )
    return text


# -- the sensor cursor -------------------------------------------------------------------------


def next_cursor(cursor: str | None, now: datetime) -> str:
    """The sensor's cursor: a tick counter and the time of the tick. It holds nothing per
    file (the ledger does), so it stays the same size however long the platform runs."""
    tick = 0
    if cursor:
        try:
            data = json.loads(cursor)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("tick"), int):
            tick = data["tick"]
    return json.dumps({"tick": tick + 1, "at": now.isoformat()}, separators=(",", ":"))
