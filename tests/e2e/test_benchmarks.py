"""Every benchmark script still runs (tiny sizes): they are not in the timed suite, but they
must not rot. The figures themselves come from `make bench`."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SMALL = {
    "parse.py": [
        "--lines",
        "3000",
        "--repeats",
        "1",
        "--dirty-repeats",
        "1",
        "--format-lines",
        "2000",
    ],
    "lake.py": ["--events", "3000", "--repeats", "1"],
    "enrich.py": ["--events", "3000", "--repeats", "1", "--distinct-factor", "2"],
    "hot_load.py": ["--events", "3000", "--minute-events", "1000", "--repeats", "1"],
    "hot_query.py": ["--rows", "20000", "--days", "2", "--queries", "3"],
    # one landed file: the latency path runs the real daemon and sensor (about 75 s)
    "correlation.py": [
        "--rows",
        "20000",
        "--days",
        "2",
        "--repeats",
        "1",
        "--latency-files",
        "1",
        "--latency-interval",
        "15",
    ],
    # the capacity table from measured rates (no database)
    "capacity.py": [],
    # a few one-file runs and a landing above a 1 MiB run cap
    "e2e.py": [
        "--events",
        "1000",
        "--events2",
        "2000",
        "--big-events",
        "5000",
        "--small-events",
        "10",
        "--small-rounds",
        "1",
        "--max-run-bytes",
        "1048576",
    ],
    "growth.py": [
        "--sizes",
        "0,20000",
        "--batch",
        "1000",
        "--chunk",
        "10000",
        "--repeats",
        "1",
        "--batches",
        "5",
        "--batch-events",
        "100",
        "--png",
        "{work_dir}/growth.png",
    ],
    "search.py": ["--sizes", "300,600", "--queries", "5"],
    # two small runs notifying a local receiver, and the sender against bare POSTs
    "alerts.py": ["--runs", "2", "--per-run", "2", "--intents", "30"],
    "sources.py": ["--objects", "3", "--lines", "500", "--messages", "2000", "--batch", "500"],
    "landing.py": [
        "--base-events",
        "20000",
        "--batch-events",
        "1000",
        "--base-hours",
        "2",
        "--rounds",
        "1",
    ],
}


def test_every_benchmark_is_covered() -> None:
    scripts = {p.name for p in (REPO / "benchmarks").glob("[a-z]*.py")}
    assert scripts == set(SMALL)


@pytest.mark.parametrize("script", sorted(SMALL))
def test_benchmark_runs(script: str, work_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOC_", "MEILI_"))}
    env["TMPDIR"] = str(work_dir)  # clusters are started under it, as the postgres user
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / script),
            *(a.format(work_dir=work_dir) for a in SMALL[script]),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    if script not in ("correlation.py", "hot_query.py", "capacity.py"):  # others: a ceiling
        # "ratio ..." or "1.35x of one file" (growth.py: of the same batch into an empty day)
        assert re.search(r"ratio|\d\.\d+x of ", proc.stdout), proc.stdout[-2000:]
