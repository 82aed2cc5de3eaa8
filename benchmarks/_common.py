"""Shared helpers for the benchmark scripts: throwaway PostgreSQL clusters, synthetic data,
timing and printing.

Not a benchmark itself. Every script imports this module by path (``benchmarks/`` is put on
``sys.path`` by running ``python benchmarks/<script>.py``), and the project root is added
here so ``soc_platform`` imports without installing the package.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pyarrow as pa  # noqa: E402

from soc_platform.hot.embedded import EmbeddedPostgres, free_port  # noqa: E402
from soc_platform.parsing import get_parser, split_lines  # noqa: E402
from soc_platform.parsing.base import ParseResult  # noqa: E402
from soc_platform.settings import load_settings  # noqa: E402
from soc_platform.sources import synth  # noqa: E402

#: A fixed UTC midnight, so every run generates the same instants (and the same days).
DAY_END = datetime(2026, 3, 2, tzinfo=UTC)
DAY_START = DAY_END - timedelta(days=1)

#: Server settings of the throwaway clusters: durability off (the benchmarks measure CPU and
#: I/O of the data path, not fsync latency of this VM's disk), WAL big enough that no
#: checkpoint lands in the middle of a timed step, and buffers big enough for the data.
PG_SERVER_OPTIONS = (
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
    "-c shared_buffers=512MB",
    "-c max_wal_size=8GB",
    "-c checkpoint_timeout=1h",
    "-c maintenance_work_mem=256MB",
    "-c work_mem=64MB",
)


# -- temp dirs and PostgreSQL ----------------------------------------------------------------


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    """A temp dir the ``postgres`` user can traverse (0755); removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=f"socbench-{prefix}-"))
    try:
        path.chmod(0o755)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def pg_cluster(prefix: str = "pg") -> Iterator[tuple[EmbeddedPostgres, str]]:
    """Start a fresh private cluster (project code: EmbeddedPostgres); stop and delete it."""
    with temp_dir(prefix) as tmp:
        server = EmbeddedPostgres(
            tmp / "pg",
            free_port(),
            load_settings().pg_bin_dir,  # SOC_PG_BIN_DIR, as the product reads it
            server_options=PG_SERVER_OPTIONS,
        )
        try:
            t0 = time.perf_counter()
            dsn = server.start()
            settings = " ".join(o.removeprefix("-c ") for o in PG_SERVER_OPTIONS)
            print(
                f"# PostgreSQL cluster up in {time.perf_counter() - t0:.1f} s "
                f"(port {server.port}; {settings}; binaries {server.bin_dir})"
            )
            yield server, dsn
        finally:
            server.stop()


def pg_version(dsn: str) -> str:
    import psycopg

    with psycopg.connect(dsn) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def checkpoint(dsn: str) -> None:
    """Flush dirty buffers (CHECKPOINT, then the kernel's page cache: with fsync=off the
    server leaves that to the kernel) so the next timed step starts from the same state and
    does not compete with the previous step's write-back."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    os.sync()


def create_database(server: EmbeddedPostgres, name: str) -> str:
    """A second database in the same cluster; returns its DSN."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server.dsn(name)


def drop_database(server: EmbeddedPostgres, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))


# -- synthetic data ----------------------------------------------------------------------


def generate_events(
    n: int, *, minutes: int = 24 * 60, seed: int = 7, end: datetime = DAY_END
) -> list[dict[str, Any]]:
    """``n`` seed-format events (project synth), ending at ``end`` (a fixed instant)."""
    events, _ = synth.generate(events=n, minutes=minutes, seed=seed, end=end)
    return events


def extra_sqli_bursts(
    count: int, *, seed: int = 1000, end: datetime = DAY_END
) -> list[dict[str, Any]]:
    """``count`` more SQL-injection bursts spread over the day before ``end``.

    Each comes from ``synth.generate(events=0, ...)`` over a one-hour span, which yields just
    its injected campaigns (a 40-event burst from a 192.168.x.x client, a slow probe, an XSS
    probe and a path-traversal scan).
    """
    out: list[dict[str, Any]] = []
    for k in range(count):
        hour_end = end - timedelta(hours=2 + k * (20 // max(count, 1)))
        events, _ = synth.generate(events=0, minutes=60, seed=seed + k, end=hour_end)
        out.extend(events)
    return out


def to_lines(events: Sequence[dict[str, Any]]) -> bytes:
    """Events as JSON lines, written as the project's CLI writes landing files."""
    return ("\n".join(json.dumps(e, separators=(",", ":")) for e in events) + "\n").encode()


#: Kinds of bad line mixed into the "dirty" inputs, and what each exercises in the parser.
BAD_KINDS = (
    "truncated_json",  # Arrow rejects the block: bisection + json.loads classification
    "wrong_type",  # status_code "abc": Arrow type error, bisection
    "not_an_object",  # a JSON array
    "two_values",  # two objects on one line: row count mismatch, bisection
    "missing_field",  # no host: vectorised validity mask, per-row reason
    "invalid_ip",  # client_ip 999.1.2.3: per-distinct-value validation
    "bad_timestamp_shape",  # "yesterday": regex rejects it (vectorised)
    "bad_timestamp_value",  # month 13: shaped right, cast fails -> per-value Python fallback
)


def bad_line(line: bytes, kind: str) -> bytes:
    obj = json.loads(line)
    if kind == "truncated_json":
        return line[: len(line) // 2]
    if kind == "wrong_type":
        obj["status_code"] = "abc"
    elif kind == "not_an_object":
        return b"[1,2,3]"
    elif kind == "two_values":
        return line + b" " + line
    elif kind == "missing_field":
        del obj["host"]
    elif kind == "invalid_ip":
        obj["client_ip"] = "999.1.2.3"
    elif kind == "bad_timestamp_shape":
        obj["timestamp"] = "yesterday"
    elif kind == "bad_timestamp_value":
        obj["timestamp"] = "2026-13-01T00:00:00.000Z"
    else:
        raise ValueError(kind)
    return json.dumps(obj, separators=(",", ":")).encode()


def mix_bad_lines(
    data: bytes, fraction: float, *, kinds: Sequence[str] = BAD_KINDS, seed: int = 11
) -> tuple[bytes, int]:
    """Replace ``fraction`` of the lines (random positions) by bad lines, kinds round-robin."""
    lines = data.rstrip(b"\n").split(b"\n")
    rng = random.Random(seed)
    count = round(len(lines) * fraction)
    for j, idx in enumerate(sorted(rng.sample(range(len(lines)), count))):
        lines[idx] = bad_line(lines[idx], kinds[j % len(kinds)])
    return b"\n".join(lines) + b"\n", count


def parse_bytes(data: bytes, source_file: str = "bench.jsonl") -> ParseResult:
    """The project's path from file bytes to events: split_lines + the waf_json parser."""
    parser = get_parser("waf_json")
    return parser(split_lines(data), source_file, datetime.now(UTC))


def parsed_events(
    n: int, *, minutes: int = 24 * 60, seed: int = 7, bursts: int = 0, end: datetime = DAY_END
) -> pa.Table:
    """``n`` (+ burst) generated events ending at ``end``, parsed to a LAKE_EVENT_SCHEMA table."""
    events = generate_events(n, minutes=minutes, seed=seed, end=end)
    if bursts:
        events = events + extra_sqli_bursts(bursts, seed=seed + 1000, end=end)
    result = parse_bytes(to_lines(events))
    assert result.dead_letters.num_rows == 0, result.dead_letters.num_rows
    return result.events


# -- timing and printing -------------------------------------------------------------------


@dataclass
class Timing:
    runs: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def best(self) -> float:
        return min(self.runs)

    def spread(self) -> str:
        return f"(median of {len(self.runs)}; min {self.best:.3f} s, max {max(self.runs):.3f} s)"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def repeat(fn: Callable[[], Any], repeats: int, warmup: int = 0) -> tuple[Timing, Any]:
    """Run ``fn`` ``warmup`` + ``repeats`` times; time the last ``repeats``."""
    out = None
    for _ in range(warmup):
        out = fn()
    runs = []
    for _ in range(repeats):
        dt, out = timed(fn)
        runs.append(dt)
    return Timing(runs), out


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


def rate(count: float, seconds: float) -> str:
    per = count / seconds if seconds > 0 else float("inf")
    return f"{per:,.0f}"


def mb(nbytes: float) -> float:
    return nbytes / 1e6


def _revision() -> str:
    """Short commit of the project, with ``+dirty`` if its library code has local edits."""
    import subprocess

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return out.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "soc_platform")
    return commit + ("+dirty" if dirty else "")


def header(title: str) -> None:
    load1 = os.getloadavg()[0]
    print(
        f"== {title}\n# soc-platform {_revision()}, python {sys.version.split()[0]}, "
        f"pyarrow {pa.__version__}, {os.cpu_count()} CPUs, load average {load1:.2f} at start"
    )


def line(label: str, value: str) -> None:
    print(f"{label:<48} {value}")
