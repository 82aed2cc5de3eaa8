"""The landing ledger and the file lifecycle against a real PostgreSQL and real files."""

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from soc_platform import sql
from soc_platform.flow import checks
from soc_platform.hot.store import HotStore
from soc_platform.lake.iceberg import Lake
from soc_platform.models import FileState
from soc_platform.sources import lifecycle
from soc_platform.sources.landing import list_landing_files
from soc_platform.sources.ledger import Holder, LandingLedger
from soc_platform.sources.planning import RetryPolicy, RunOutcome
from soc_platform.sources.processes import host_name, is_alive, own_start, process_start

NOW = datetime.now(UTC).replace(microsecond=0)
POLICY = RetryPolicy(base_seconds=0, max_seconds=0, quarantine_after=2)


@pytest.fixture
def area(work_dir: Path) -> lifecycle.LandingArea:
    root = work_dir / "landing"
    root.mkdir()
    return lifecycle.LandingArea(root, work_dir / "quarantine", work_dir / "archive")


@pytest.fixture
def ledger(pg_dsn: str, area: lifecycle.LandingArea) -> LandingLedger:
    hot = HotStore(pg_dsn)
    hot.setup()
    return area.ledger(hot)


def land(area: lifecycle.LandingArea, name: str, text: str = "{}\n") -> str:
    path = area.root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path.resolve())


def no_run(_token: str) -> None:
    return None


def test_the_migration_is_idempotent_and_versioned(pg_dsn: str) -> None:
    hot = HotStore(pg_dsn)
    hot.setup(target_version=3)
    assert hot.schema_version() == 3
    hot.setup()
    hot.setup()
    assert hot.schema_version() == sql.latest_version() >= 4
    ledger = next(m for m in sql.migrations("plain") if m.version == 4)
    with psycopg.connect(pg_dsn) as conn:
        for _, statement in ledger.statements:
            conn.execute(statement)  # every statement may run again


def test_sync_registers_replaces_and_forgets(
    ledger: LandingLedger, area: lifecycle.LandingArea
) -> None:
    a, b = land(area, "a.jsonl"), land(area, "sub/b.jsonl")
    ledger.sync(list_landing_files(area.root))
    assert {(f.path, f.state) for f in ledger.entries()} == {
        (a, FileState.PENDING),
        (b, FileState.PENDING),
    }
    (batch,) = lifecycle.claim_next(ledger, POLICY, NOW)
    lifecycle.fail_claim(ledger, batch.token, "boom", NOW, POLICY)
    assert {f.state for f in ledger.entries()} == {FileState.FAILED}
    Path(a).write_text("{}\n{}\n")  # replaced: new content starts over
    ledger.sync(list_landing_files(area.root))
    by_path = {f.path: f for f in ledger.entries()}
    assert by_path[a].state is FileState.PENDING and by_path[a].attempts == 0
    assert by_path[b].state is FileState.FAILED and by_path[b].attempts == 1
    Path(b).unlink()  # gone from landing: nothing left to do
    ledger.sync(list_landing_files(area.root))
    assert [f.path for f in ledger.entries()] == [a]


def test_concurrent_claims_never_take_the_same_file(ledger: LandingLedger) -> None:
    hot = ledger.hot
    paths = [f"/landing/{i:04d}.jsonl" for i in range(400)]
    from soc_platform.models import LandingFile

    ledger.sync([LandingFile(p, 10, i) for i, p in enumerate(paths)])
    got: dict[str, list[str]] = {}
    barrier = threading.Barrier(4)

    def claim(name: str) -> None:
        mine = LandingLedger(hot.clone(), ledger.source)
        barrier.wait()
        got[name] = [f.path for f in mine.claim(paths, name, NOW, Holder("h", 1, None))]

    threads = [threading.Thread(target=claim, args=(f"c{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = [p for v in got.values() for p in v]
    assert sorted(taken) == paths  # every file once, by exactly one claimer
    assert ledger.claim(paths, "late", NOW) == []


def test_a_failure_is_recorded_once_whoever_notices_it(
    ledger: LandingLedger, area: lifecycle.LandingArea
) -> None:
    for i in range(3):
        land(area, f"f{i}.jsonl")
    ledger.sync(list_landing_files(area.root))
    (batch,) = lifecycle.claim_next(ledger, POLICY, NOW)
    assert lifecycle.fail_claim(ledger, batch.token, "boom", NOW, POLICY) == 3
    assert lifecycle.fail_claim(ledger, batch.token, "boom", NOW, POLICY) == 0
    entries = ledger.entries()
    assert {f.attempts for f in entries} == {1}
    assert len({f.retry_group for f in entries}) == 1  # first retried whole
    assert ledger.health().last_fresh_failure_at == NOW


def test_refresh_fails_claims_of_dead_processes_and_releases_orphans(
    ledger: LandingLedger, area: lifecycle.LandingArea
) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    gone_pid = int(dead.stdout)
    a, b, c = (land(area, f"{n}.jsonl") for n in "abc")
    ledger.sync(list_landing_files(area.root))
    ledger.claim([a], "cli-dead", NOW, Holder(host_name(), gone_pid, NOW.timestamp()))
    ledger.claim([b], "cli-alive", NOW, lifecycle.this_process())
    ledger.claim([c], "sensor-orphan", NOW - timedelta(hours=1))
    report = lifecycle.refresh(ledger, area, POLICY, NOW, no_run)
    assert report.failed_claims == ["cli-dead"]
    assert report.released_claims == ["sensor-orphan"]
    state = {f.path: (f.state, f.claim) for f in ledger.entries()}
    assert state == {
        a: (FileState.FAILED, None),
        b: (FileState.CLAIMED, "cli-alive"),
        c: (FileState.PENDING, None),
    }


def test_retire_deletes_or_archives_and_quarantines_partly_read_files(
    ledger: LandingLedger, area: lifecycle.LandingArea
) -> None:
    done, cut, changed = land(area, "d/done.jsonl"), land(area, "cut.jsonl"), land(area, "c.jsonl")
    ledger.sync(list_landing_files(area.root))
    (batch,) = lifecycle.claim_next(ledger, POLICY, NOW)
    Path(changed).write_text('{"more": 1}\n{}\n')  # a writer appended during the run
    report = lifecycle.retire(ledger, area, batch.token, {cut: "EOFError: truncated"}, NOW)
    assert report.retired == [done] and report.changed == [changed]
    assert not Path(done).exists() and not Path(cut).exists()
    moved = Path(report.quarantined[cut])
    assert moved == area.quarantine_dir / "cut.jsonl" and moved.read_text() == "{}\n"
    by_path = {f.path: f for f in ledger.entries()}
    assert by_path[cut].state is FileState.QUARANTINED
    assert "read only partly: EOFError: truncated" in (by_path[cut].last_error or "")
    assert by_path[changed].state is FileState.PENDING  # read again, new version
    assert ledger.health().last_success_at == NOW

    archive = lifecycle.LandingArea(area.root, area.quarantine_dir, area.archive_dir, "archive")
    ledger.sync(list_landing_files(area.root))
    (batch,) = lifecycle.claim_next(ledger, POLICY, NOW)
    report = lifecycle.retire(ledger, archive, batch.token, {}, NOW)
    assert report.archived == [str(area.archive_dir / NOW.date().isoformat() / "c.jsonl")]
    assert list_landing_files(area.root) == []
    assert {f.state for f in ledger.entries()} == {FileState.QUARANTINED}


def test_a_file_failing_alone_while_others_succeed_is_quarantined(
    ledger: LandingLedger, area: lifecycle.LandingArea
) -> None:
    bad = land(area, "x/bad.jsonl")
    clock = NOW
    for i in range(6):
        land(area, f"good{i}.jsonl")  # traffic: other files keep arriving and succeeding
        clock += timedelta(minutes=1)
        lifecycle.refresh(ledger, area, POLICY, clock, no_run)
        for batch in lifecycle.claim_next(ledger, POLICY, clock, max_runs=10):
            if bad in batch.paths:
                lifecycle.fail_claim(ledger, batch.token, "hot store refused day", clock, POLICY)
            else:
                lifecycle.retire(ledger, area, batch.token, {}, clock + timedelta(seconds=1))
    (entry,) = ledger.entries([FileState.QUARANTINED])
    assert entry.path == bad and entry.quarantined_to == str(area.quarantine_dir / "x/bad.jsonl")
    assert "last error: hot store refused day" in (entry.last_error or "")
    assert Path(entry.quarantined_to or "").exists() and not Path(bad).exists()
    assert list_landing_files(area.root) == []
    outcome = checks.quarantine_check(ledger)
    assert not outcome.passed and bad in outcome.description
    # the same name may land again while the old one is in quarantine
    land(area, "x/bad.jsonl")
    ledger.sync(list_landing_files(area.root))
    assert {f.state for f in ledger.entries()} == {FileState.QUARANTINED, FileState.PENDING}


def test_claims_follow_their_runs(ledger: LandingLedger, area: lifecycle.LandingArea) -> None:
    a, b = land(area, "a.jsonl"), land(area, "b.jsonl")
    ledger.sync(list_landing_files(area.root))
    (batch,) = lifecycle.claim_next(ledger, POLICY, NOW)
    outcomes = {batch.token: (RunOutcome.ACTIVE, "")}
    lifecycle.refresh(ledger, area, POLICY, NOW + timedelta(hours=5), outcomes.get)
    assert {f.state for f in ledger.entries()} == {FileState.CLAIMED}  # a queued run waits
    outcomes[batch.token] = (RunOutcome.FAILED, "run 1: step failed")
    report = lifecycle.refresh(ledger, area, POLICY, NOW, outcomes.get)
    assert report.failed_claims == [batch.token]
    assert {f.last_error for f in ledger.entries()} == {"run 1: step failed"}
    assert sorted(f.path for f in ledger.entries()) == [a, b]


def test_process_identity_survives_pid_reuse_checks() -> None:
    me = own_start()
    assert me is not None and is_alive(os.getpid(), me)
    assert not is_alive(os.getpid(), me - 3600)  # same pid, another start: another process
    assert process_start(2**22 + 12345) is None
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert process_start(proc.pid) is None  # reaped


def test_a_retired_file_can_be_rebuilt_from_the_lake(lake: Lake, work_dir: Path) -> None:
    """What the README says: every line of a processed file is in the lake, events in
    raw_waf_events and the rest in dead_letter, by source_file and source_offset."""
    from pyiceberg.expressions import EqualTo

    from soc_platform.flow import steps
    from tests.helpers import to_jsonl, waf_event

    path = work_dir / "shipped.jsonl"
    good = to_jsonl([waf_event(NOW - timedelta(seconds=i), f"198.51.100.{i}") for i in range(5)])
    lines = good.splitlines()
    original = [*lines[:2], "{not json", '{"client_ip": "x"}', *lines[2:]]
    path.write_text("\n".join(original) + "\n")
    assert steps.ingest_files(lake, [str(path)]).parsed == 5
    path.unlink()  # retired

    src = EqualTo("source_file", str(path))
    fields = ("source_offset", "raw")
    events = lake.table("raw_waf_events").scan(row_filter=src, selected_fields=fields)
    dead = lake.table("dead_letter").scan(row_filter=src, selected_fields=fields)
    rows = events.to_arrow().to_pylist() + dead.to_arrow().to_pylist()
    assert [r["raw"] for r in sorted(rows, key=lambda r: r["source_offset"])] == original
