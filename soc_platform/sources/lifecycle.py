"""The lifecycle of landing files, composed from the ledger, the landing directory and the
pure decisions of ``planning``.

The micro-batch sensor and ``soc-platform run`` call :func:`refresh` then
:func:`claim_next`; the micro-batch's last step calls :func:`retire`. So both launch paths
keep one record and neither reads a file the other holds or has finished:

    landing ──sync──▶ pending ──claim──▶ claimed ──run succeeded──▶ retired (deleted or
                         ▲                  │                         archived; entry gone)
                         │   backoff over   ▼ run failed / process gone
                         └────────────── failed ──alone N times, with evidence──▶ quarantined
"""

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

from soc_platform import faults
from soc_platform.hot.store import HotStore
from soc_platform.models import FileState, LandingFile, LedgerEntry, local_source
from soc_platform.settings import Settings
from soc_platform.sources.landing import (
    current_version,
    list_landing_files,
    move_file,
    retire_file,
)
from soc_platform.sources.ledger import Holder, LandingLedger
from soc_platform.sources.planning import (
    ClaimView,
    LedgerSummary,
    PlannedBatch,
    RetryPolicy,
    RunOutcome,
    Verdict,
    judge_claim,
    outage_suspected,
    plan_batches,
    record_failure,
    to_quarantine,
)
from soc_platform.sources.processes import host_name, is_alive, own_start

#: How a claim's run went: (outcome, error text), or None when no run carries the claim.
RunLookup = Callable[[str], tuple[RunOutcome, str] | None]


class Area(Protocol):
    """Where landing files come from and go: the local directory (:class:`LandingArea`)
    or an S3/MinIO prefix (``sources.s3.S3Area``). Paths are what the ledger records."""

    @property
    def source(self) -> str: ...
    @property
    def done(self) -> str: ...
    def ledger(self, hot: HotStore) -> LandingLedger: ...
    def list_files(self) -> list[LandingFile]: ...
    def current_version(self, path: str) -> str | None: ...
    def quarantine_file(self, path: str) -> str:
        """Move to quarantine; return where it went (FileNotFoundError: it is gone)."""

    def restore_file(self, moved: str, path: str) -> None:
        """Put a file moved by :meth:`quarantine_file` back at ``path``."""

    def retire_file(self, path: str, today: date) -> str | None:
        """Take a processed file out (delete or archive); return where it was archived."""


@dataclass(frozen=True)
class LandingArea:
    """The landing directory and where its files go when they leave it."""

    root: Path
    quarantine_dir: Path
    archive_dir: Path
    done: str = "delete"  # or "archive"

    @property
    def source(self) -> str:
        """The ledger's name for this landing directory."""
        return local_source(str(self.root))

    def ledger(self, hot: HotStore) -> LandingLedger:
        return LandingLedger(hot, self.source)

    def list_files(self) -> list[LandingFile]:
        return list_landing_files(self.root)

    def current_version(self, path: str) -> str | None:
        return current_version(Path(path))

    def quarantine_file(self, path: str) -> str:
        return str(move_file(Path(path), self.root, self.quarantine_dir))

    def restore_file(self, moved: str, path: str) -> None:
        move_file(Path(moved), self.quarantine_dir, self.root)

    def retire_file(self, path: str, today: date) -> str | None:
        archived = retire_file(Path(path), self.root, self.done, self.archive_dir, today)
        return str(archived) if archived is not None else None

    @classmethod
    def from_settings(cls, settings: Settings) -> "LandingArea":
        return cls(
            settings.landing_dir,
            settings.quarantine_dir,
            settings.archive_dir,
            settings.landing_done,
        )


def policy_from_settings(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        base_seconds=settings.landing_retry_base_seconds,
        max_seconds=settings.landing_retry_max_seconds,
        quarantine_after=settings.landing_quarantine_after,
    )


def this_process() -> Holder:
    """The holder of claims taken by this process (``soc-platform run``)."""
    return Holder(host_name(), os.getpid(), own_start())


@dataclass
class RefreshReport:
    observed: int = 0
    failed_claims: list[str] = field(default_factory=list)
    released_claims: list[str] = field(default_factory=list)
    quarantined: list[LedgerEntry] = field(default_factory=list)  # moved aside just now


def _holder_alive(f: LedgerEntry) -> bool | None:
    if f.holder_pid is None or f.holder_host != host_name():
        return None  # a sensor claim, or a process on another host
    return is_alive(f.holder_pid, f.holder_started)


def refresh(
    ledger: LandingLedger,
    area: Area,
    policy: RetryPolicy,
    now: datetime,
    run_of: RunLookup,
) -> RefreshReport:
    """List landing, bring the ledger up to date, settle finished claims (a failed run's
    files are marked failed and halved, files of runs that never appeared released) and
    quarantine files that keep failing alone."""
    report = RefreshReport()
    observed = area.list_files()
    report.observed = len(observed)
    ledger.sync(observed)
    health = ledger.health()
    claims: dict[str, list[LedgerEntry]] = {}
    for f in ledger.entries([FileState.CLAIMED]):
        claims.setdefault(f.claim or "", []).append(f)
    for token, files in claims.items():
        looked_up = run_of(token)
        outcome, error = looked_up if looked_up else (None, "")
        view = ClaimView(
            token,
            min(f.claimed_at or now for f in files),
            tuple(files),
            outcome,
            _holder_alive(files[0]),
        )
        verdict = judge_claim(view, now, policy)
        if verdict is Verdict.FAILED:
            if not error:
                error = f"the process holding claim {token} is gone (killed?)"
            record = record_failure(files, token, error, now, health, policy)
            fresh_at = record.tried_at if record.fresh else None
            if ledger.record_failure(token, record.files, error, fresh_at):
                report.failed_claims.append(token)
                health = ledger.health()
        elif verdict is Verdict.RELEASE and ledger.release(token):
            report.released_claims.append(token)
    for f in to_quarantine(ledger.entries([FileState.FAILED]), health, policy):
        reason = (
            f"failed {f.alone_failures} times in runs holding only this file, while other "
            f"runs succeeded; last error: {f.last_error}"
        )
        if quarantine(ledger, area, f, reason) is not None:
            report.quarantined.append(f)
    return report


def quarantine(ledger: LandingLedger, area: Area, entry: LedgerEntry, reason: str) -> str | None:
    """Move a file to the quarantine folder (prefix) and record why; return where it went
    (None: the file is gone, or another process changed its entry first)."""
    try:
        moved = area.quarantine_file(entry.path)
    except FileNotFoundError:  # gone (or another process moved it first)
        return None
    if ledger.quarantine(entry, moved, reason):
        return moved
    area.restore_file(moved, entry.path)  # someone else changed it: put it back
    return None


def summarize(ledger: LandingLedger, observed: int, now: datetime) -> LedgerSummary:
    entries = ledger.entries()
    health = ledger.health()
    waiting = [
        f
        for f in entries
        if f.state is FileState.FAILED and f.next_attempt_at and f.next_attempt_at > now
    ]
    return LedgerSummary(
        observed=observed,
        claimed=sum(f.state is FileState.CLAIMED for f in entries),
        waiting=len(waiting),
        next_retry=min((f.next_attempt_at for f in waiting if f.next_attempt_at), default=None),
        quarantined=sum(f.state is FileState.QUARANTINED for f in entries),
        outage=outage_suspected(health),
        last_success_at=health.last_success_at,
    )


def claim_next(
    ledger: LandingLedger,
    policy: RetryPolicy,
    now: datetime,
    holder: Holder | None = None,
    prefix: str = "microbatch",
    max_runs: int | None = None,
    exclude: set[str] | frozenset[str] = frozenset(),
    retry_now: bool = False,
) -> list[PlannedBatch]:
    """Claim the next batches (failed groups that are due, or all with ``retry_now``,
    then pending files, leaving out ``exclude``); return what was actually claimed (a
    concurrent claimer may have taken some files)."""
    entries = [
        f for f in ledger.entries([FileState.PENDING, FileState.FAILED]) if f.path not in exclude
    ]
    claimed = []
    for plan in plan_batches(entries, now, policy, prefix, max_runs, retry_now):
        got = ledger.claim(plan.paths, plan.token, now, holder or Holder(), retry_now)
        if got:
            got.sort(key=lambda f: (f.mtime_ns, f.path))
            claimed.append(PlannedBatch(plan.token, tuple(got), plan.attempt))
    return claimed


def fail_claim(
    ledger: LandingLedger, token: str, error: str, now: datetime, policy: RetryPolicy
) -> int:
    """Record that the run of claim ``token`` failed (``soc-platform run`` does it itself)."""
    files = [f for f in ledger.entries([FileState.CLAIMED]) if f.claim == token]
    if not files:
        return 0
    record = record_failure(files, token, error, now, ledger.health(), policy)
    return ledger.record_failure(
        token, record.files, error, record.tried_at if record.fresh else None
    )


@dataclass
class RetireReport:
    retired: list[str] = field(default_factory=list)  # out of landing (deleted or archived)
    archived: list[str] = field(default_factory=list)  # where they went (archive mode)
    quarantined: dict[str, str] = field(default_factory=dict)  # read partly: path -> moved to
    changed: list[str] = field(default_factory=list)  # replaced during the run: read again
    vanished: list[str] = field(default_factory=list)  # gone before the run could retire them


def retire(
    ledger: LandingLedger,
    area: Area,
    token: str | None,
    files_failed: dict[str, str],
    now: datetime,
) -> RetireReport:
    """After a successful run: its files leave landing (deleted or archived) and the
    ledger. A file the run read only partly (``files_failed``) is quarantined instead (its
    unread tail must not vanish); a file replaced during the run stays, to be read again."""
    report = RetireReport()
    ledger.mark_success(now)
    if not token:
        return report
    files = [f for f in ledger.entries([FileState.CLAIMED]) if f.claim == token]
    for f in files:
        version = area.current_version(f.path)
        if version is None:
            report.vanished.append(f.path)
        elif f.path in files_failed:
            why = f"read only partly: {files_failed[f.path]} (lines before the problem are kept)"
            moved = quarantine(ledger, area, f, why)
            if moved is not None:
                report.quarantined[f.path] = str(moved)
        elif version != f.version:
            report.changed.append(f.path)
        else:
            archived = area.retire_file(f.path, now.date())
            report.retired.append(f.path)
            if len(report.retired) == 1:
                faults.check("retire_file")  # a file out of landing, the ledger not told
            if archived is not None:
                report.archived.append(archived)
    ledger.retire(token, report.retired + report.vanished)
    if report.changed:
        ledger.release(token, report.changed)
    return report
