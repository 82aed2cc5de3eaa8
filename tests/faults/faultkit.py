"""What the fault-injection suite drives and measures: the input, the command line in
subprocesses, and a snapshot of everything a run stores (lake, hot store, aggregates,
incidents, search, landing, ledger, Dagster runs), compared with an uninterrupted run."""

import gzip
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg

from soc_platform.hot.store import HotStore
from soc_platform.lake.iceberg import DEAD_LETTER, RAW_EVENTS, Lake, LakeConfig
from soc_platform.search.backends import EmbeddedSearch
from soc_platform.settings import load_settings
from tests.helpers import clean_environ

CLI = [sys.executable, "-m", "soc_platform.cli"]
EVENTS = 2500
MINUTES = 60
SEED = 17
HOSTILE = "zz-hostile.jsonl"
#: Searches whose hits (ids, in order) must not change.
QUERIES = ("blocked attempts from 192.168", "sql injection", "path traversal", "scanner")


def child_env(base: dict[str, str], pycache: Path) -> dict[str, str]:
    """The environment of the suite's subprocesses: none of the developer's soc-platform,
    Dagster or pyiceberg settings. Compiled bytecode is cached under ``pycache`` so each
    subprocess does not recompile Dagster (PYTHONDONTWRITEBYTECODE would make it)."""
    keep = {k: v for k, v in clean_environ().items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**keep, "PYTHONWARNINGS": "ignore", "PYTHONPYCACHEPREFIX": str(pycache), **base}


def cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


# -- the input -------------------------------------------------------------------------------


def _line(ts: datetime, ip: str, uri: str, status: int = 200, **extra: Any) -> str:
    rec: dict[str, Any] = {
        "timestamp": ts.isoformat().replace("+00:00", "Z"),
        "client_ip": ip,
        "host": "shop.example.com",
        "request_method": "GET",
        "request_uri": uri,
        "status_code": status,
        "user_agent": "Mozilla/5.0",
        **extra,
    }
    return json.dumps(rec, separators=(",", ":"))


def hostile_lines(now: datetime, resent: str) -> list[tuple[str, str]]:
    """(line, expected outcome): good lines, hostile ones with their dead-letter reason,
    the same event twice in this file and once more as a line of another file
    (``resent``, re-serialised: other key order and spacing)."""
    t = (now - timedelta(minutes=20)).replace(microsecond=0)
    ok = _line(t, "198.51.100.20", "/hostile/ok")

    def bad(n: int, old: str, new: str, count: int = -1) -> str:
        return _line(t, f"198.51.100.{n}", "/x").replace(old, new, count)

    again = json.dumps(dict(reversed(list(json.loads(resent).items()))))
    return [
        (ok, "event"),
        ("{not json", "invalid_json"),
        ("[1, 2, 3]", "not_an_object"),
        (_line(t, "300.1.1.1", "/x"), "invalid_ip"),
        (bad(21, t.strftime("%Y-%m-%dT"), "01/"), "invalid_timestamp"),
        (bad(22, '"status_code":200', '"status_code":"200"'), "wrong_type"),
        (bad(23, '"host":"shop.example.com",', ""), "missing_field"),
        (bad(24, t.strftime("%Y"), "9999", 1), "out_of_range"),
        (bad(25, '"status_code":200', '"status_code":999'), "invalid_value"),
        (bad(26, '"status_code":200', '"status_code":200,"host":"b"'), "duplicate_field"),
        (bad(27, '"status_code":200', '"status_code":200,"x":' + "[" * 99 + "]" * 99), "too_deep"),
        (_line(t + timedelta(seconds=1), "198.51.100.28", "/hostile/ok2"), "event"),
        (ok, "duplicate"),  # the same event twice in one file
        (again, "duplicate"),  # an event of another file, re-sent by a shipper
    ]


@dataclass(frozen=True)
class Input:
    """The suite's input: generated traffic with campaigns, plus one hostile file."""

    folder: Path
    lines: dict[str, int]  # file name -> lines
    hostile: list[tuple[str, str]]  # the hostile file's lines and expected outcomes

    @property
    def total_lines(self) -> int:
        return sum(self.lines.values())

    def land(self, landing: Path) -> None:
        """Copy the input into a landing directory (modification times kept: files are
        claimed in that order)."""
        landing.mkdir(parents=True, exist_ok=True)
        for name in self.lines:
            shutil.copy2(self.folder / name, landing / name)


def read_lines(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        return fh.read().splitlines()


def make_input(folder: Path, env: dict[str, str]) -> Input:
    truth = str(folder.parent / "truth.json")
    made = cli(
        env, "generate", "--out", str(folder), "--events", str(EVENTS),
        "--minutes", str(MINUTES), "--seed", str(SEED), "--truth", truth,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    generated = sorted(folder.glob("*.jsonl.gz"))
    resent = read_lines(generated[0])[0]
    hostile = hostile_lines(datetime.now(UTC), resent)
    time.sleep(0.01)  # the hostile file is the newest: claimed after the generated ones
    (folder / HOSTILE).write_text("".join(line + "\n" for line, _ in hostile))
    lines = {p.name: len(read_lines(p)) for p in [*generated, folder / HOSTILE]}
    return Input(folder, lines, hostile)


# -- the state a run leaves -------------------------------------------------------------------


@dataclass
class State:
    """Everything a micro-batch stores, in comparable form."""

    lake_events: int
    lake_distinct: int
    lake_ids: frozenset[str]
    dead_letter_rows: int
    dead_letter_distinct: int
    dead_letters: dict[tuple[str, int], str]  # (file name, line offset) -> reason
    hot_rows: int
    hot_distinct: int
    hot_equals_lake: bool
    aggregate_totals: dict[str, int]
    aggregates: dict[str, str]  # table -> digest of its rows
    incidents: list[dict[str, Any]]
    incident_terms: int
    search: dict[str, list[str]]  # query -> hit ids
    landing_files: list[str]
    quarantined_files: list[str]
    ledger_entries: list[tuple[str, str]]
    unfinished_runs: list[str]
    orphan_data_files: int = field(compare=False)  # Parquet files no snapshot references

    def dead_letters_by(self) -> Counter[tuple[str, str]]:
        return Counter((name, reason) for (name, _), reason in self.dead_letters.items())


AGGREGATE_TABLES = (
    "waf_events_1m",
    "waf_events_1h",
    "waf_events_daily_summary",
    "waf_events_daily_ips",
)


def _lake(env: dict[str, str]) -> Lake:
    return Lake(LakeConfig.from_settings(load_settings(env)))


def _referenced_files(lake: Lake, name: str) -> set[str]:
    table = lake.table(name)
    return {task.file.file_path for task in table.scan().plan_files()}


def orphan_files(env: dict[str, str]) -> int:
    """Parquet data files in the warehouse that no snapshot of either table references."""
    lake = _lake(env)
    warehouse = Path(load_settings(env).lake_warehouse.removeprefix("file://"))
    on_disk = {str(p) for p in warehouse.rglob("*.parquet") if "/data/" in str(p)}
    referenced = _referenced_files(lake, RAW_EVENTS) | _referenced_files(lake, DEAD_LETTER)
    return len(on_disk - {r.removeprefix("file://") for r in referenced})


def _runs_unfinished(data_dir: Path) -> list[str]:
    """Micro-batch runs not finished (a scheduled freshness check may run at any time)."""
    home = data_dir / "dagster"
    if not (home / "dagster.yaml").is_file():
        return []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(dg.RunsFilter(tags={"soc/pipeline": "microbatch"}))
        return [f"{r.run_id} {r.status.value}" for r in runs if not r.is_finished]


def progress(env: dict[str, str], dsn: str) -> tuple[list[str], int]:
    """Files in landing, and ledger entries (-1: no ledger yet)."""
    landing = load_settings(env).landing_dir
    files = sorted(p.name for p in landing.rglob("*.jsonl*") if p.is_file())
    try:
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT count(*) FROM landing_files").fetchone()
    except psycopg.errors.UndefinedTable:
        return files, -1
    return files, int(row[0]) if row else -1


def snapshot(env: dict[str, str], dsn: str) -> State:
    settings = load_settings(env)
    lake = _lake(env)
    events = lake.table(RAW_EVENTS).scan(selected_fields=("event_id",)).to_arrow()
    ids = events["event_id"].to_pylist()
    dead = (
        lake.table(DEAD_LETTER)
        .scan(selected_fields=("dead_letter_id", "source_file", "source_offset", "reason"))
        .to_arrow()
        .to_pylist()
    )
    letters = {(Path(d["source_file"]).name, d["source_offset"]): d["reason"] for d in dead}
    with psycopg.connect(dsn) as conn:
        hot = conn.execute("SELECT count(*), count(DISTINCT event_id) FROM waf_events").fetchone()
        hot_ids = {r[0] for r in conn.execute("SELECT event_id FROM waf_events")}
        totals = {
            t: int(conn.execute(f"SELECT coalesce(sum(event_count), 0) FROM {t}").fetchone()[0])  # type: ignore[index]
            for t in AGGREGATE_TABLES
        }
        digests = {
            t: str(
                conn.execute(
                    f"SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) "
                    f"FROM {t} t"
                ).fetchone()[0]  # type: ignore[index]
            )
            for t in AGGREGATE_TABLES
        }
        incidents = [
            r[0]
            for r in conn.execute(
                # times of writing, not content: when a run wrote the row or set its status
                "SELECT to_jsonb(i) - 'created_at' - 'updated_at' - 'search_tsv' "
                "- 'status_changed_at' FROM incidents i ORDER BY id"
            )
        ]
        terms = conn.execute("SELECT count(*) FROM incident_terms").fetchone()
        ledger = [
            (Path(r[0]).name, r[1])
            for r in conn.execute("SELECT path, state FROM landing_files ORDER BY path")
        ]
    assert hot is not None and terms is not None
    search = EmbeddedSearch(HotStore(dsn))
    found = {q: [h.id for h in search.search(q, limit=50)] for q in QUERIES}
    quarantine = settings.quarantine_dir
    return State(
        lake_events=len(ids),
        lake_distinct=len(set(ids)),
        lake_ids=frozenset(ids),
        dead_letter_rows=len(dead),
        dead_letter_distinct=len({d["dead_letter_id"] for d in dead}),
        dead_letters=letters,
        hot_rows=int(hot[0]),
        hot_distinct=int(hot[1]),
        hot_equals_lake=hot_ids == set(ids),
        aggregate_totals=totals,
        aggregates=digests,
        incidents=incidents,
        incident_terms=int(terms[0]),
        search=found,
        landing_files=sorted(p.name for p in settings.landing_dir.rglob("*") if p.is_file()),
        quarantined_files=sorted(p.name for p in quarantine.rglob("*") if p.is_file())
        if quarantine.exists()
        else [],
        ledger_entries=ledger,
        unfinished_runs=_runs_unfinished(settings.data_dir),
        orphan_data_files=orphan_files(env),
    )


def assert_same(state: State, reference: State) -> None:
    """The state after faults and recovery equals the uninterrupted run's, part by part
    (the first difference is named)."""
    assert state.lake_events == state.lake_distinct, "events duplicated in the lake"
    assert state.lake_ids == reference.lake_ids, (
        f"lake events: {len(reference.lake_ids - state.lake_ids)} lost, "
        f"{len(state.lake_ids - reference.lake_ids)} unexpected"
    )
    assert state.dead_letter_rows == state.dead_letter_distinct, "dead letters duplicated"
    assert state.dead_letters == reference.dead_letters, "dead letters differ"
    assert (state.hot_rows, state.hot_distinct) == (reference.hot_rows, reference.hot_distinct)
    assert state.hot_equals_lake, "the hot store's events are not the lake's"
    assert state.aggregate_totals == reference.aggregate_totals
    assert state.aggregates == reference.aggregates, "aggregate rows differ"
    assert [(i["id"], i["event_count"]) for i in state.incidents] == [
        (i["id"], i["event_count"]) for i in reference.incidents
    ], "incident ids or counts differ"
    assert state.incidents == reference.incidents, "incident rows differ"
    assert state.incident_terms == reference.incident_terms
    assert state.search == reference.search, "search results differ"
    assert state.landing_files == [], "files left in landing"
    assert state.quarantined_files == [], "files quarantined"
    assert state.ledger_entries == [], "ledger entries left"
    assert state.unfinished_runs == [], f"Dagster runs left unfinished: {state.unfinished_runs}"
    assert state == reference


@dataclass
class Row:
    """One line of the suite's summary table."""

    case: str
    kills: int
    lines_in: int
    events: int
    dead_letters: int
    quarantined: int
    incidents: int
    orphans: int
    seconds: float


ROWS: list[Row] = []


def record(case: str, kills: int, lines_in: int, state: State, seconds: float) -> None:
    ROWS.append(
        Row(
            case,
            kills,
            lines_in,
            state.lake_distinct,
            state.dead_letter_rows,
            len(state.quarantined_files),
            len(state.incidents),
            state.orphan_data_files,
            seconds,
        )
    )


def table() -> list[str]:
    head = (
        f"{'case':<42} {'kills':>5} {'lines in':>8} {'events':>7} {'dead l.':>7} "
        f"{'quar.':>5} {'incid.':>6} {'orphans':>7} {'s':>6}"
    )
    out = [head, "-" * len(head)]
    out += [
        f"{r.case:<42} {r.kills:>5} {r.lines_in:>8} {r.events:>7} {r.dead_letters:>7} "
        f"{r.quarantined:>5} {r.incidents:>6} {r.orphans:>7} {r.seconds:>6.1f}"
        for r in ROWS
    ]
    killed = [r for r in ROWS if r.kills]
    out.append(f"kills survived: {sum(r.kills for r in killed)} in {len(killed)} cases")
    if PER_FILE:
        out += ["", f"{'file (one CLI run)':<24} {'lines in':>8} {'events':>7} {'dupl.':>5} "
                f"{'dead l.':>7}"]  # fmt: skip
        out += [
            f"{name:<24} {lines:>8} {events:>7} {dupes:>5} {dead:>7}"
            for name, (lines, events, dupes, dead) in PER_FILE.items()
        ]
    return out


#: The hostile corpus through the command line: file -> (lines, events stored from it,
#: events already stored from another line, dead letters).
PER_FILE: dict[str, tuple[int, int, int, int]] = {}
