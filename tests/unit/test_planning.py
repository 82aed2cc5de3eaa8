"""Unit tests for the micro-batch sensor's pure decision (soc_platform.planning)."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soc_platform.models import LandingFile
from soc_platform.planning import parse_cursor, plan_runs


def lf(name: str, size: int = 100, mtime: int = 1) -> LandingFile:
    return LandingFile(f"/landing/{name}", size, mtime)


def test_empty_landing_directory() -> None:
    plan = plan_runs(None, [])
    assert plan.run is None
    assert plan.skip_reason == "landing directory is empty"
    assert plan.pending_after == 0
    assert json.loads(plan.cursor) == {"done": []}


def test_first_run_launches_all_files_oldest_first() -> None:
    files = [lf("c.jsonl", mtime=30), lf("a.jsonl", mtime=20), lf("b.jsonl", mtime=20)]
    plan = plan_runs(None, files)
    assert plan.run is not None
    # by modification time, then path
    assert plan.run.files == ["/landing/a.jsonl", "/landing/b.jsonl", "/landing/c.jsonl"]
    assert plan.run.run_key.startswith("microbatch-")
    assert plan.skip_reason is None
    assert plan.pending_after == 0
    assert set(json.loads(plan.cursor)["done"]) == {f.key for f in files}


def test_cursor_is_compact_sorted_json() -> None:
    plan = plan_runs(None, [lf("b.jsonl"), lf("a.jsonl")])
    assert plan.cursor == json.dumps(
        {"done": sorted([lf("a.jsonl").key, lf("b.jsonl").key])}, separators=(",", ":")
    )


def test_nothing_new_skips_with_reason() -> None:
    files = [lf("a.jsonl"), lf("b.jsonl")]
    first = plan_runs(None, files)
    again = plan_runs(first.cursor, list(reversed(files)))
    assert again.run is None
    assert again.skip_reason == "no new landing files (2 already processed)"
    assert again.pending_after == 0
    assert json.loads(again.cursor) == json.loads(first.cursor)


def test_only_new_files_are_launched() -> None:
    first = plan_runs(None, [lf("a.jsonl")])
    second = plan_runs(first.cursor, [lf("a.jsonl"), lf("b.jsonl", mtime=5)])
    assert second.run is not None
    assert second.run.files == ["/landing/b.jsonl"]
    assert set(json.loads(second.cursor)["done"]) == {lf("a.jsonl").key, lf("b.jsonl", mtime=5).key}


def test_replaced_or_grown_file_is_launched_again() -> None:
    first = plan_runs(None, [lf("a.jsonl", size=100, mtime=1)])
    grown = plan_runs(first.cursor, [lf("a.jsonl", size=250, mtime=1)])
    touched = plan_runs(first.cursor, [lf("a.jsonl", size=100, mtime=2)])
    for plan in (grown, touched):
        assert plan.run is not None
        assert plan.run.files == ["/landing/a.jsonl"]
        # the stale key is forgotten
        assert lf("a.jsonl").key not in json.loads(plan.cursor)["done"]


def test_files_that_left_landing_are_forgotten() -> None:
    first = plan_runs(None, [lf("a.jsonl"), lf("b.jsonl")])
    after = plan_runs(first.cursor, [lf("b.jsonl")])
    assert after.run is None
    assert json.loads(after.cursor) == {"done": [lf("b.jsonl").key]}
    # if a.jsonl comes back unchanged, it is new again
    back = plan_runs(after.cursor, [lf("a.jsonl"), lf("b.jsonl")])
    assert back.run is not None and back.run.files == ["/landing/a.jsonl"]


def test_max_files_batches_and_reports_pending() -> None:
    files = [lf(f"f{i:02d}.jsonl", mtime=i) for i in range(7)]
    plan = plan_runs(None, files, max_files=3)
    assert plan.run is not None
    assert plan.run.files == [f"/landing/f{i:02d}.jsonl" for i in range(3)]
    assert plan.pending_after == 4
    plan2 = plan_runs(plan.cursor, files, max_files=3)
    assert plan2.run is not None
    assert plan2.run.files == [f"/landing/f{i:02d}.jsonl" for i in range(3, 6)]
    assert plan2.pending_after == 1
    plan3 = plan_runs(plan2.cursor, files, max_files=3)
    assert plan3.run is not None and plan3.run.files == ["/landing/f06.jsonl"]
    assert plan3.pending_after == 0
    assert plan_runs(plan3.cursor, files, max_files=3).run is None


def test_run_key_is_deterministic_and_content_based() -> None:
    files = [lf("a.jsonl"), lf("b.jsonl")]
    k1 = plan_runs(None, files).run
    k2 = plan_runs(None, list(reversed(files))).run
    k3 = plan_runs(None, [lf("a.jsonl"), lf("b.jsonl", size=101)]).run
    assert k1 is not None and k2 is not None and k3 is not None
    assert k1.run_key == k2.run_key
    assert k1.run_key != k3.run_key


@pytest.mark.parametrize(
    "cursor", [None, "", "not json", "[1, 2]", '"done"', "42", "{}", '{"done": []}', '{"other": 1}']
)
def test_unusable_cursor_means_nothing_done(cursor: str | None) -> None:
    assert parse_cursor(cursor) == set()
    plan = plan_runs(cursor, [lf("a.jsonl")])
    assert plan.run is not None and plan.run.files == ["/landing/a.jsonl"]


def test_cursor_ignores_non_string_keys() -> None:
    assert parse_cursor('{"done": ["a|1|2", 3, null, ["x"]]}') == {"a|1|2"}


@pytest.mark.parametrize("cursor", ['{"done": null}', '{"done": 5}'])
def test_cursor_with_non_list_done_is_treated_as_empty(cursor: str) -> None:
    assert parse_cursor(cursor) == set()


PATHS = st.sampled_from([f"/landing/{c}.jsonl" for c in "abcdefgh"])


@st.composite
def landings(draw: st.DrawFn) -> list[LandingFile]:
    paths = draw(st.lists(PATHS, unique=True, max_size=8))
    return [LandingFile(p, draw(st.integers(0, 3)), draw(st.integers(0, 3))) for p in paths]


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(landings(), min_size=1, max_size=6), st.integers(1, 4))
def test_each_observed_version_is_launched_exactly_once(
    observations: list[list[LandingFile]], max_files: int
) -> None:
    """Over any sequence of directory states, a file version is launched once and only
    once while it stays in landing, batches respect max_files, and the cursor only
    holds keys of files present now."""
    cursor: str | None = None
    for observed in observations:
        present = {f.key for f in observed}
        done_before = parse_cursor(cursor) & present
        launched: list[str] = []
        while True:
            plan = plan_runs(cursor, observed, max_files=max_files)
            assert set(json.loads(plan.cursor)["done"]) <= present
            cursor = plan.cursor  # the sensor stores the cursor on every tick
            if plan.run is None:
                assert plan.pending_after == 0
                break
            assert 1 <= len(plan.run.files) <= max_files
            launched.extend(plan.run.files)
        expected = sorted(
            (f for f in observed if f.key not in done_before), key=lambda f: (f.mtime_ns, f.path)
        )
        assert launched == [f.path for f in expected]
        assert parse_cursor(cursor) == present


def test_runs_are_bounded_by_bytes_but_take_at_least_one_file() -> None:
    from soc_platform.planning import batch_files

    files = [LandingFile(f"/landing/{i}.jsonl", size, i) for i, size in enumerate([40, 50, 30])]
    assert [f.path for f in batch_files(files, max_bytes=100)] == [
        "/landing/0.jsonl",
        "/landing/1.jsonl",
    ]
    huge = [LandingFile("/landing/huge.jsonl", 10**12, 0), *files]
    assert [f.path for f in batch_files(huge, max_bytes=100)] == ["/landing/huge.jsonl"]
    plan = plan_runs(None, files, max_bytes=60)
    assert plan.run is not None and plan.run.files == ["/landing/0.jsonl"]
    assert plan.pending_after == 2
