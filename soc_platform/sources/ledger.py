"""The landing ledger: what is known of each landing file not yet done, in the hot store's
PostgreSQL (tables ``landing_files`` and ``landing_sources``, migration 0004).

The sensor and ``soc-platform run`` share it, so neither reads a file the other holds or
has finished. Every change that two processes could race on is one conditional statement
(a claim takes only files still pending or due; a failure is recorded only while its
claim still holds the files), so the first one wins and the other changes nothing.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row

from soc_platform import sql
from soc_platform.hot.store import HotStore
from soc_platform.models import FileState, LandingFile, LedgerEntry, SourceHealth


@dataclass(frozen=True)
class Holder:
    """Who holds a claim: a sensor-launched run (no process fields) or a process."""

    host: str | None = None
    pid: int | None = None
    started: float | None = None


def _entry(row: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry(**{**row, "state": FileState(row["state"])})


class LandingLedger:
    """Typed access to the ledger of one source (see ``models.local_source``)."""

    def __init__(self, hot: HotStore, source: str) -> None:
        self.hot = hot
        self.source = source

    def _run(self, name: str, params: dict[str, Any]) -> list[LedgerEntry]:
        with self.hot.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.query(name), {"source": self.source, **params})
            return [_entry(r) for r in cur.fetchall()] if cur.description else []

    def _exec(self, name: str, params: dict[str, Any]) -> int:
        with self.hot.connect() as conn:
            cur = conn.execute(sql.query(name), {"source": self.source, **params})
            return cur.rowcount

    # -- observing ------------------------------------------------------------------------

    def sync(self, files: Sequence[LandingFile]) -> None:
        """Make the ledger match a listing of landing: new files pending, replaced files
        pending again, entries of files that left landing gone (quarantined ones stay)."""
        paths = [f.path for f in files]
        with self.hot.connect() as conn:
            conn.execute(
                sql.query("ledger_sync"),
                {
                    "source": self.source,
                    "paths": paths,
                    "versions": [f.version for f in files],
                    "sizes": [f.size for f in files],
                    "mtimes": [f.mtime_ns for f in files],
                },
            )
            conn.execute(
                sql.query("ledger_forget_missing"), {"source": self.source, "paths": paths}
            )

    def entries(self, states: Iterable[FileState] = tuple(FileState)) -> list[LedgerEntry]:
        return self._run("ledger_entries", {"states": [s.value for s in states]})

    def health(self) -> SourceHealth:
        with self.hot.connect() as conn:
            row = conn.execute(
                sql.query("ledger_source_health"), {"source": self.source}
            ).fetchone()
        return SourceHealth(row[0], row[1]) if row else SourceHealth()

    # -- claims -----------------------------------------------------------------------------

    def claim(
        self,
        paths: Sequence[str],
        token: str,
        now: datetime,
        holder: Holder | None = None,
        retry_now: bool = False,
    ) -> list[LedgerEntry]:
        """Take the files among ``paths`` still free (pending, or failed and due, or
        failed at all with ``retry_now``) for the claim ``token``; return those taken.
        ``holder``: the claiming process (None: a sensor claim, whose run Dagster tracks)."""
        holder = holder or Holder()
        return self._run(
            "ledger_claim",
            {
                "paths": list(paths),
                "claim": token,
                "now": now,
                "host": holder.host,
                "pid": holder.pid,
                "started": holder.started,
                "retry_now": retry_now,
            },
        )

    def release(self, token: str, paths: Sequence[str] | None = None) -> int:
        """Give the claim's files (or ``paths`` of them) back without counting a failure."""
        return self._exec(
            "ledger_release_claim", {"claim": token, "paths": list(paths) if paths else None}
        )

    def record_failure(
        self,
        token: str,
        files: Sequence[LedgerEntry],
        error: str,
        fresh_failure_at: datetime | None,
    ) -> int:
        """Store a failed claim's files as the planner decided (``files`` carry their new
        counters); only while ``token`` still holds them. ``fresh_failure_at``: the claim
        held never-failed files, claimed then. Returns how many changed."""
        with self.hot.connect() as conn:
            changed = conn.execute(
                sql.query("ledger_record_failure"),
                {
                    "source": self.source,
                    "claim": token,
                    "error": error[:2000],
                    "paths": [f.path for f in files],
                    "attempts": [f.attempts for f in files],
                    "alone": [f.alone_failures for f in files],
                    "groups": [f.retry_group for f in files],
                    "first_failed": [f.first_failed_at for f in files],
                    "last_failed": [f.last_failed_at for f in files],
                    "next_attempt": [f.next_attempt_at for f in files],
                },
            ).rowcount
            if changed and fresh_failure_at is not None:
                conn.execute(
                    sql.query("ledger_mark_fresh_failure"),
                    {"source": self.source, "at": fresh_failure_at},
                )
        return changed

    # -- leaving landing --------------------------------------------------------------------

    def quarantine(self, entry: LedgerEntry, moved_to: str, reason: str) -> bool:
        """Record that ``entry``'s file was moved to ``moved_to`` (from its current state)."""
        return (
            self._exec(
                "ledger_quarantine",
                {
                    "path": entry.path,
                    "state": entry.state.value,
                    "claim": entry.claim,
                    "moved_to": moved_to,
                    "reason": reason[:2000],
                },
            )
            > 0
        )

    def retire(self, token: str, paths: Sequence[str]) -> int:
        """Drop the entries of files a successful run moved out of landing."""
        if not paths:
            return 0
        return self._exec("ledger_retire", {"claim": token, "paths": list(paths)})

    def mark_success(self, at: datetime) -> None:
        """A run holding files of this source succeeded (evidence the platform works)."""
        self._exec("ledger_mark_success", {"at": at})

    def forget(self, entry: LedgerEntry) -> bool:
        """Drop one entry (a quarantined file moved back to landing is registered anew)."""
        return (
            self._exec(
                "ledger_delete_entry",
                {"path": entry.path, "state": entry.state.value, "moved_to": entry.quarantined_to},
            )
            > 0
        )

    def reset(self, entry: LedgerEntry) -> bool:
        """A failed file is tried again at the next run, as if new."""
        return self._exec("ledger_reset", {"path": entry.path}) > 0
