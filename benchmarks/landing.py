"""Landing lifecycle: a batch beside millions of already-loaded events vs the same batch alone.

Before issue 15, processed files stayed in the landing directory and each `soc-platform run`
re-read all of them (duplicate detection absorbed the events): a 10,000-event batch beside
2,000,000 loaded events took 255.8 s against 17.1 s alone (15x). Now a successful run takes
its files out of landing and the ledger records what is done, so the batch beside loaded
events should cost about what it costs alone: nothing is read again, only the tables are
bigger.

Two platforms, each its own data directory and database in one throwaway cluster:

* alone: a fresh platform, warmed up by a run of one event of another day (so the schema,
  the lake tables and the Dagster storage exist, as on the other), then land the batch
  and time `soc-platform run`;
* beside: land ``--base-events`` over the ``--base-hours`` before the batch, load them with
  `soc-platform run` (timed too), then land the same batch and time `soc-platform run`.

Files are written as `soc-platform generate` writes them (gzip, one per 15 minutes of
event time). Each `run` is a subprocess, timed wall-clock, Python and Dagster start-up
included (a few seconds, the same in both). ``--rounds`` batches (new events each round,
the same on both platforms, the order alternating) are timed on each; prints each time, the
medians, their ratio, and the landing files left after each run (0).

    .venv/bin/python benchmarks/landing.py [--base-events 2000000] [--batch-events 10000]
"""

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import create_database, header, line, pg_cluster, pg_version, temp_dir

from soc_platform.sources import synth

REPO = Path(__file__).resolve().parents[1]


def write_landing(folder: Path, events: list[dict[str, Any]], prefix: str) -> int:
    """Events as gzip files, one per 15 minutes of event time (as `generate` writes them)."""
    chunks: dict[str, list[dict[str, Any]]] = {}
    for ev in events:
        stamp = datetime.fromisoformat(ev["timestamp"].replace("Z", "+00:00"))
        bucket = stamp - timedelta(
            minutes=stamp.minute % 15, seconds=stamp.second, microseconds=stamp.microsecond
        )
        chunks.setdefault(f"{bucket:%Y%m%dT%H%M}", []).append(ev)
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in chunks.items():
        final = folder / f"{prefix}-{name}.jsonl.gz"
        tmp = folder / f".{final.name}.tmp"
        with gzip.open(tmp, "wt", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r, separators=(",", ":")) + "\n" for r in rows)
        tmp.replace(final)
    return len(chunks)


def run(env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "soc_platform.cli", "run", "--json"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"soc-platform run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return took, json.loads(proc.stdout)


def steps(home: Path, run_ids: list[str]) -> str:
    """Where a run's time went: its steps' durations (from the Dagster instance)."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        parts = []
        for run_id in run_ids:
            for stat in instance.get_run_step_stats(run_id):
                if stat.start_time and stat.end_time:
                    name = stat.step_key.replace("_landing_files", "").replace("_incidents", "")
                    parts.append(f"{name} {stat.end_time - stat.start_time:.1f}")
    return ", ".join(parts)


def left(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*.jsonl*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-events", type=int, default=2_000_000)
    ap.add_argument("--base-hours", type=int, default=24)
    ap.add_argument("--batch-events", type=int, default=10_000)
    ap.add_argument("--chunk-events", type=int, default=250_000, help="generation chunk")
    ap.add_argument("--rounds", type=int, default=3, help="batches timed on each platform")
    args = ap.parse_args()
    header(
        f"landing: a {args.batch_events:,}-event batch beside {args.base_events:,} loaded "
        "events vs alone"
    )
    end = datetime.now(UTC).replace(microsecond=0)
    base_end = end - timedelta(minutes=15)
    with temp_dir("landing") as tmp, pg_cluster("landing") as (server, _dsn):
        print(f"# PostgreSQL {pg_version(_dsn)}")
        envs = {}
        for name in ("alone", "beside"):
            envs[name] = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("SOC_", "MEILI_"))},
                "SOC_DATA_DIR": str(tmp / name),
                "SOC_PG_DSN": create_database(server, f"bench_{name}"),
                "SOC_PARTITIONS_START": (end - timedelta(days=30)).date().isoformat(),
                "DAGSTER_HOME": str(tmp / name / "dagster"),
                "TMPDIR": str(tmp),
                "PYTHONWARNINGS": "ignore",
            }

        warm, _ = synth.generate(events=1, minutes=5, seed=1, end=end - timedelta(days=3))
        write_landing(tmp / "alone" / "landing", warm[:1], "warmup")
        run(envs["alone"])

        # the base: generated in chunks (a chunk per slice of the base hours), then loaded
        landing = tmp / "beside" / "landing"
        chunks = max(1, -(-args.base_events // args.chunk_events))
        span = timedelta(hours=args.base_hours) / chunks
        files = 0
        t0 = time.perf_counter()
        for k in range(chunks):
            n = min(args.chunk_events, args.base_events - k * args.chunk_events)
            minutes = max(5, int(span.total_seconds() // 60))
            events, _ = synth.generate(
                events=n, minutes=minutes, seed=100 + k, end=base_end - k * span
            )
            files += write_landing(landing, events, f"base{k:03d}")
        line("base generated", f"{args.base_events:,} events, {files} files "
             f"({time.perf_counter() - t0:.1f} s)")  # fmt: skip
        took, out = run(envs["beside"])
        line(
            "base loaded (soc-platform run)",
            f"{took:.1f} s: {out['events_new']:,} events in {len(out['runs'])} run(s); "
            f"{left(landing)} files left in landing",
        )

        times: dict[str, list[float]] = {"alone": [], "beside": []}
        for r in range(args.rounds):  # a new batch per round, the same on both platforms
            batch, _ = synth.generate(
                events=args.batch_events, minutes=15, seed=7 + r, end=end + timedelta(minutes=r)
            )
            order = ("alone", "beside") if r % 2 == 0 else ("beside", "alone")
            for name in order:
                folder = tmp / name / "landing"
                write_landing(folder, batch, f"batch{r}")
                took, out = run(envs[name])
                times[name].append(took)
                line(
                    f"round {r + 1}: batch {name}",
                    f"{took:.1f} s: read {out['lines']:,} lines, {out['events_new']:,} new; "
                    f"{left(folder)} files left in landing",
                )
                line(
                    "  steps (s)", steps(tmp / name / "dagster", [x["run_id"] for x in out["runs"]])
                )
        alone, beside = statistics.median(times["alone"]), statistics.median(times["beside"])
        line(f"batch alone (median of {args.rounds})", f"{alone:.1f} s")
        line(f"batch beside (median of {args.rounds})", f"{beside:.1f} s")
        line(
            "ratio beside / alone",
            f"{beside / alone:.2f} (before issue 15: 255.8 s / 17.1 s = 15.0)",
        )


if __name__ == "__main__":
    main()
