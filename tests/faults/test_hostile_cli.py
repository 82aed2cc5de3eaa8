"""The hostile corpus (tests/integration/test_hostile_corpus.py: a 5 MB line, nesting that
crashes JSON parsers, a lone surrogate, a WAF clock in year 9999, byte-order marks, NULs,
CRLF, re-sent events...) through the whole command-line path: `soc-platform run` takes
every file, and per file every line in is an event or a dead letter out (or an event
already stored from another line); nothing fails, nothing is quarantined."""

import json
import os
import time
from pathlib import Path

import pyarrow.compute as pc
import pytest

from soc_platform.lake.iceberg import DEAD_LETTER, RAW_EVENTS, Lake, LakeConfig
from soc_platform.settings import load_settings
from tests.faults import faultkit
from tests.faults.conftest import make_case
from tests.integration.test_hostile_corpus import CORPUS, write_corpus

pytestmark = pytest.mark.faults


def test_hostile_corpus_through_the_command_line(
    work_dir: Path, pg_dsn: str, fault_input: faultkit.Input, pycache: Path
) -> None:
    case = make_case(work_dir, pg_dsn, fault_input, pycache)
    landing = case.data_dir / "landing"
    for path in landing.iterdir():  # this case takes the corpus alone
        path.unlink()
    paths = write_corpus(landing)
    # crash_lines.jsonl is claimed first: reserialised.jsonl re-sends two of its events
    for i, name in enumerate(sorted(paths, key=lambda n: n != "crash_lines.jsonl")):
        os.utime(paths[name], ns=(10**18 + i, 10**18 + i))

    done = case.run("--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    outcomes = [o for lines in CORPUS.values() for _, o in lines]
    assert summary["files"] == len(CORPUS) and summary["files_failed"] == {}
    assert summary["lines"] == len(outcomes)
    assert summary["events_parsed"] + summary["dead_letters"] == summary["lines"]
    assert summary["duplicates"] == outcomes.count("duplicate")

    lake = Lake(LakeConfig.from_settings(load_settings(case.env)))
    events = lake.table(RAW_EVENTS).scan().to_arrow()
    dead = lake.table(DEAD_LETTER).scan().to_arrow()
    for name, lines in CORPUS.items():
        mine = events.filter(pc.equal(events["source_file"], str(paths[name])))
        letters = dead.filter(pc.equal(dead["source_file"], str(paths[name])))
        got = dict.fromkeys(mine["source_offset"].to_pylist(), "event")
        got.update(
            zip(letters["source_offset"].to_pylist(), letters["reason"].to_pylist(), strict=True)
        )
        assert got == {i: o for i, (_, o) in enumerate(lines) if o != "duplicate"}, name
        dupes = [o for _, o in lines].count("duplicate")
        assert mine.num_rows + dupes + letters.num_rows == len(lines), name
        faultkit.PER_FILE[name] = (len(lines), mine.num_rows, dupes, letters.num_rows)

    state = case.snapshot()
    assert state.lake_events == state.lake_distinct == state.hot_rows == state.hot_distinct
    assert state.hot_equals_lake
    assert state.landing_files == state.quarantined_files == state.ledger_entries == []
    assert state.unfinished_runs == []
    faultkit.record(
        "hostile corpus, one CLI run", 0, len(outcomes), state, time.monotonic() - case.started
    )
