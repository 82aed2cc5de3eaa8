"""End to end: `soc-platform run` throughput (marginal), per-stage times, peak RSS, and the
fixed overhead of a micro-batch of one small file (issue 12).

One platform (its own data directory, a database in a throwaway cluster, a SQLite lake
catalog) is warmed up by a run of one event of another day, so the schema, the lake tables
and the Dagster storage exist. Then, each `soc-platform run --json` a subprocess:

* fixed overhead: ``--small-rounds`` runs of one file of ``--small-events`` events; the
  process's wall time, the Dagster run's own duration (its start to its end in the
  instance) and its steps;
* throughput: a batch of ``--events`` and one of ``--events2`` (new events each), in one
  plain file each (``--max-run-bytes`` must hold both, so each is one run): the marginal
  rate is (events2 - events) / (time2 - time), which takes the fixed overhead out;
* memory: ``--big-events`` events landed at once, well above the run cap: the peak RSS of
  the `soc-platform run` process (``wait4``'s ``ru_maxrss``) and the number of runs the
  cap cut it into.

Ceilings, measured in this process on the ``--events2`` batch's bytes: parse against
`pyarrow.json.read_json` (explicit schema), the lake against `pyarrow.parquet.write_table`
(zstd) of the parsed events. The hot load's ratio to a bare COPY is `benchmarks/hot_load.py`.

    .venv/bin/python benchmarks/e2e.py [--events 50000] [--events2 250000] [--big-events 600000]
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq
from _common import (
    create_database,
    header,
    line,
    parse_bytes,
    pg_cluster,
    pg_version,
    temp_dir,
    to_lines,
)

from soc_platform.parsing.waf_json import INPUT_SCHEMA
from soc_platform.sources import synth

REPO = Path(__file__).resolve().parents[1]


def run(env: dict[str, str]) -> tuple[float, int, dict[str, Any]]:
    """One `soc-platform run --json`: wall seconds, peak RSS (bytes), its JSON."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "soc_platform.cli", "run", "--json"],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=err,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        took = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read().decode()
        if proc.returncode != 0:
            raise SystemExit(f"soc-platform run failed:\n{text[-2000:]}\n{err.read()[-3000:]!r}")
    return took, usage.ru_maxrss * 1024, json.loads(text)


def run_stats(home: Path, run_ids: list[str]) -> tuple[float, dict[str, float]]:
    """The Dagster runs' own duration (start to end) and their steps' durations."""
    import dagster as dg

    total = 0.0
    steps: dict[str, float] = {}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for run_id in run_ids:
            record = instance.get_run_record_by_id(run_id)
            if record and record.start_time and record.end_time:
                total += record.end_time - record.start_time
            for stat in instance.get_run_step_stats(run_id):
                if stat.start_time and stat.end_time:
                    steps[stat.step_key] = steps.get(stat.step_key, 0.0) + (
                        stat.end_time - stat.start_time
                    )
    return total, steps


def land(folder: Path, data: bytes, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(data)
    tmp.replace(folder / name)


def events_bytes(n: int, seed: int, end: datetime) -> bytes:
    events, _ = synth.generate(events=n, minutes=60, seed=seed, end=end)
    return to_lines(events)


def ceilings(data: bytes) -> dict[str, float]:
    """Seconds: read_json of the bytes; our parse; write_table of the parsed events."""
    opts = pj.ParseOptions(explicit_schema=INPUT_SCHEMA, unexpected_field_behavior="ignore")
    t0 = time.perf_counter()
    pj.read_json(io.BytesIO(data), parse_options=opts)
    read_json = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = parse_bytes(data)
    parse = time.perf_counter() - t0
    table: pa.Table = result.events
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        pq.write_table(table, f"{d}/x.parquet", compression="zstd")
        write = time.perf_counter() - t0
    return {"read_json": read_json, "parse": parse, "write_table": write}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--events2", type=int, default=250_000)
    ap.add_argument("--big-events", type=int, default=600_000)
    ap.add_argument("--small-events", type=int, default=100)
    ap.add_argument("--small-rounds", type=int, default=3)
    ap.add_argument("--max-run-bytes", type=int, default=None, help="SOC_MAX_RUN_BYTES")
    args = ap.parse_args()
    header("e2e: soc-platform run, marginal throughput, stages, peak RSS, fixed overhead")
    end = datetime.now(UTC).replace(microsecond=0)
    with temp_dir("e2e") as tmp, pg_cluster("e2e") as (server, _dsn):
        print(f"# PostgreSQL {pg_version(_dsn)}")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SOC_", "MEILI_"))},
            "SOC_DATA_DIR": str(tmp / "data"),
            "SOC_PG_DSN": create_database(server, "bench_e2e"),
            "SOC_PARTITIONS_START": (end - timedelta(days=30)).date().isoformat(),
            "DAGSTER_HOME": str(tmp / "data" / "dagster"),
            "TMPDIR": str(tmp),
            "PYTHONWARNINGS": "ignore",
        }
        big_env = dict(env)
        if args.max_run_bytes:
            big_env["SOC_MAX_RUN_BYTES"] = str(args.max_run_bytes)
        landing = tmp / "data" / "landing"
        home = tmp / "data" / "dagster"
        land(landing, events_bytes(1, 1, end - timedelta(days=3)), "warmup.jsonl")
        took, _, _ = run(env)
        line("warm-up run (1 event; schema, lake tables)", f"{took:.1f} s")

        # fixed overhead
        walls, own = [], []
        for r in range(args.small_rounds):
            land(landing, events_bytes(args.small_events, 10 + r, end), f"small{r}.jsonl")
            took, rss, out = run(env)
            dag, steps = run_stats(home, [x["run_id"] for x in out["runs"]])
            walls.append(took)
            own.append(dag)
            line(
                f"small batch {r + 1} ({args.small_events} events)",
                f"process {took:.2f} s, Dagster run {dag:.2f} s, rss {rss / 1e6:.0f} MB; "
                + ", ".join(f"{k} {v:.2f}" for k, v in steps.items()),
            )
        line(
            "fixed overhead (median): process / run itself",
            f"{statistics.median(walls):.2f} s / {statistics.median(own):.2f} s (goal <= 3 s)",
        )

        # throughput
        sizes = {}
        biggest = b""
        for k, n in enumerate((args.events, args.events2)):
            data = events_bytes(n, 100 + k, end - timedelta(hours=2 + k))
            biggest = data
            land(landing, data, f"batch{k}.jsonl")
            took, rss, out = run(env)
            dag, steps = run_stats(home, [x["run_id"] for x in out["runs"]])
            sizes[n] = took
            line(
                f"batch of {n:,} events ({len(data) / 1e6:.0f} MB)",
                f"process {took:.1f} s ({n / took:,.0f} ev/s), Dagster run {dag:.1f} s, "
                f"{len(out['runs'])} run(s), peak rss {rss / 1e6:.0f} MB",
            )
            line("  steps (s)", ", ".join(f"{k} {v:.2f}" for k, v in steps.items()))
        d_events = args.events2 - args.events
        d_time = sizes[args.events2] - sizes[args.events]
        line(
            "marginal throughput",
            f"{d_events / d_time:,.0f} events/s (goal >= 100,000)" if d_time > 0 else "n/a",
        )
        c = ceilings(biggest)
        line(
            f"parse vs read_json ({args.events2:,} lines)",
            f"{c['parse']:.2f} s vs {c['read_json']:.2f} s: ratio "
            f"{c['read_json'] / c['parse']:.2f} (goal >= 0.5)",
        )
        line(
            "parquet.write_table (zstd) of the parsed events",
            f"{c['write_table']:.2f} s (the lake step's ceiling; see the ingest step above)",
        )

        # bounded memory
        if args.big_events:
            per = 100_000
            total = 0
            for k in range(0, args.big_events, per):
                n = min(per, args.big_events - k)
                data = events_bytes(n, 500 + k, end - timedelta(hours=5))
                total += len(data)
                land(landing, data, f"big{k:08d}.jsonl")
            took, rss, out = run(big_env)
            line(
                f"{args.big_events:,} events at once ({total / 1e6:.0f} MB of lines)",
                f"{took:.1f} s in {len(out['runs'])} run(s), peak rss {rss / 1e6:.0f} MB "
                "(goal <= 1000 MB)",
            )


if __name__ == "__main__":
    main()
