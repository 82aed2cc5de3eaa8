"""The TimescaleDB suite's server: PGlite (PostgreSQL 17.5 in WASM) with TimescaleDB 2.23,
pg_trgm and btree_gin, served over the wire protocol by ``serve.mjs`` (Node.js).

One server per test session; each test starts from an empty schema (``reset``), which
takes well under a second, where a restart from the template data dir takes 3-5 s.
All connections share ONE backend session, so tests use autocommit connections with
``prepare_threshold=None`` and never hold a transaction open while another connection works.
"""

import hashlib
import os
import subprocess
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql

from soc_platform.hot import buckets
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.lake.tables import first_per_key
from soc_platform.models import EVENT_SCHEMA

SERVER_DIR = Path(__file__).resolve().parent
READY_TIMEOUT_S = 180.0  # a first start runs initdb in WASM: 10-20 s, more on a loaded machine
#: The session's time zone during the tests, reported to clients at connect (psycopg then
#: returns times in it). Not UTC on purpose: PGlite ignores the TimeZone=UTC the hot store
#: asks for at connect (a startup option), as PgBouncer does with
#: ``ignore_startup_parameters = options``, so the suite proves that nothing the product
#: computes depends on the session's zone. +05:45 moves both day and hour boundaries.
SESSION_TIME_ZONE = "Asia/Kathmandu"

#: Relations of the product in public (the extensions' own objects, also in public, stay).
_OWN_RELATIONS = """
SELECT c.oid::regclass::text, c.relkind
FROM pg_class AS c
WHERE c.relnamespace = 'public'::regnamespace
  AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND NOT EXISTS (
      SELECT 1 FROM pg_depend AS d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
"""
_OWN_ROUTINES = """
SELECT p.oid::regprocedure::text, p.prokind
FROM pg_proc AS p
WHERE p.pronamespace = 'public'::regnamespace
  AND NOT EXISTS (
      SELECT 1 FROM pg_depend AS d
      WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
"""


def node_modules_ready() -> bool:
    return (SERVER_DIR / "node_modules" / "@unni-craftsman" / "pglite").is_dir()


def template_path() -> Path:
    """The dumped data dir, reused across sessions; keyed by the packages and the boot SQL
    (a dump is tied to the exact PGlite build)."""
    digest = hashlib.sha256()
    for name in ("package-lock.json", "serve.mjs"):
        digest.update((SERVER_DIR / name).read_bytes())
    return Path(tempfile.gettempdir()) / f"soc-pglite-tsdb-{digest.hexdigest()[:16]}.tar.gz"


class PGliteServer:
    """``node serve.mjs`` on a free port; restarted (from the template) if it dies."""

    def __init__(self, node: str, workdir: Path) -> None:
        self.node = node
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.starts = 0

    @property
    def dsn(self) -> str:
        # user, password and database are ignored: the session is postgres in template1
        return f"host=127.0.0.1 port={self.port} user=postgres password=postgres dbname=postgres"

    @property
    def stderr(self) -> Path:
        return self.workdir / f"serve-{self.starts}.err"

    def start(self) -> None:
        self.starts += 1
        out = self.workdir / f"serve-{self.starts}.out"
        env = {
            **os.environ,
            "PGLITE_TEMPLATE": str(template_path()),
            "PGLITE_TIMEZONE": SESSION_TIME_ZONE,
        }
        # stdout to a file, not a pipe: nothing drains a pipe while the tests run
        with out.open("wb") as fo, self.stderr.open("wb") as fe:
            self.proc = subprocess.Popen(
                [self.node, str(SERVER_DIR / "serve.mjs"), "0", "16"],
                cwd=SERVER_DIR,
                stdout=fo,
                stderr=fe,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            for line in out.read_text(errors="replace").splitlines():
                if line.startswith("PGLITE_READY "):
                    self.port = int(line.split()[2])
                    return
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve.mjs exited {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"serve.mjs not ready in {READY_TIMEOUT_S:.0f} s")
            time.sleep(0.1)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ensure_running(self) -> None:
        if not self.alive():
            self.start()

    def log_tail(self, lines: int = 20) -> str:
        text = self.stderr.read_text(errors="replace") if self.stderr.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: server.stop() then db.close()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def connect(dsn: str) -> psycopg.Connection[Any]:
    """An autocommit connection that prepares nothing (prepared statement names of
    different connections would collide in the shared session)."""
    return psycopg.connect(dsn, autocommit=True, prepare_threshold=None)


def reset(conn: psycopg.Connection[Any]) -> None:
    """Empty the database for the next test: drop the product's relations and routines
    (continuous aggregates first, finest last, which drops their policies; the
    hypertable's drop takes its chunks and jobs), and reset the shared session state.

    Not ``DISCARD ALL``/``RESET ALL``: they reset search_path to PGlite's boot value
    (pg_catalog), which hides every table.
    """
    conn.execute("SET search_path TO public")
    conn.execute(sql.SQL("SET TimeZone TO {}").format(sql.Literal(SESSION_TIME_ZONE)))
    conn.execute("SELECT pg_advisory_unlock_all()")
    conn.execute("DEALLOCATE ALL")
    conn.execute("DISCARD TEMP")
    caggs = [
        r[0]
        for r in conn.execute(
            "SELECT view_name FROM timescaledb_information.continuous_aggregates"
        ).fetchall()
    ]
    for _ in range(len(caggs)):  # a view another aggregate reads from cannot go first
        for view in list(caggs):
            try:
                conn.execute(sql.SQL("DROP MATERIALIZED VIEW {}").format(sql.Identifier(view)))
                caggs.remove(view)
            except psycopg.errors.DependentObjectsStillExist:
                pass
    drop = {"v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE", "f": "FOREIGN TABLE"}
    for name, kind in conn.execute(_OWN_RELATIONS).fetchall():
        statement = f"DROP {drop.get(kind, 'TABLE')} IF EXISTS {{}} CASCADE"
        conn.execute(sql.SQL(statement).format(sql.SQL(name)))
    for name, kind in conn.execute(_OWN_ROUTINES).fetchall():
        statement = f"DROP {'PROCEDURE' if kind == 'p' else 'FUNCTION'} IF EXISTS {{}} CASCADE"
        conn.execute(sql.SQL(statement).format(sql.SQL(name)))
    leftovers = conn.execute(
        "SELECT (SELECT count(*) FROM _timescaledb_catalog.hypertable),"
        " (SELECT count(*) FROM timescaledb_information.jobs WHERE job_id >= 1000),"
        f" (SELECT count(*) FROM ({_OWN_RELATIONS}) AS r)"
    ).fetchone()
    assert leftovers == (0, 0, 0), f"reset left hypertables, jobs, relations: {leftovers}"


_COLUMNS = tuple(EVENT_SCHEMA.names)


def insert_events(dsn: str, events: pa.Table, rows_per_statement: int = 500) -> int:
    """INSERT ``events`` (EVENT_SCHEMA) into waf_events the way the loader's idempotent path
    does (first row per event id, ``ON CONFLICT DO NOTHING``); return the rows inserted.

    The product loads with COPY, which this server cannot take: the real-server suite and
    the plain PostgreSQL suite test that path.
    """
    inserted = 0
    with connect(dsn) as conn:
        # the columns the table has (a database at an older schema has fewer)
        have = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'waf_events'"
            )
        }
        names = [c for c in _COLUMNS if c in have]
        rows = first_per_key(events.select(names), "event_id").to_pylist()
        columns = sql.SQL(", ").join(map(sql.Identifier, names))
        one_row = sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder() * len(names)))
        for start in range(0, len(rows), rows_per_statement):
            chunk = rows[start : start + rows_per_statement]
            statement = sql.SQL(
                "INSERT INTO waf_events ({}) VALUES {} "
                "ON CONFLICT (event_time, event_id) DO NOTHING"
            ).format(columns, sql.SQL(", ").join([one_row] * len(chunk)))
            cur = conn.execute(statement, [row[c] for row in chunk for c in names])
            inserted += cur.rowcount
    return inserted


def touched_minutes(times: pa.ChunkedArray | Sequence[datetime]) -> list[buckets.Range]:
    """The one-minute ranges a load of events at ``times`` refreshes (as load_events)."""
    arr = times if isinstance(times, pa.ChunkedArray) else pa.chunked_array([pa.array(times)])
    return buckets.to_ranges(buckets.touched_minutes(arr), buckets.MINUTE)


def insert_and_refresh(hot: HotStore, events: pa.Table) -> int:
    """What ``HotStore.load_events`` does on TimescaleDB, with INSERT for COPY: insert, then
    refresh the aggregates for exactly the minutes the events touched."""
    inserted = insert_events(hot.dsn, events)
    hot.refresh_aggregates(touched_minutes(events["event_time"]))
    return inserted


def hot_store(dsn: str, policy: HotPolicy | None = None) -> HotStore:
    """The product's hot store on this server: prepared statements off (every connection
    shares one session, so psycopg's per-connection statement names would collide). The
    default policy keeps every day (the suite's events carry fixed dates)."""
    return HotStore(dsn, policy=policy or HotPolicy(retention_days=0), prepare_threshold=None)
