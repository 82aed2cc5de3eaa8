"""The test-only fault hook (soc_platform.faults): it fires where and for whom it is told."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from soc_platform import faults
from soc_platform.faults import InjectedFaultError, check


def test_no_fault_configured_does_nothing() -> None:
    for point in ("ingest", "hot_copy", "retire"):
        check(point, ["/landing/a.jsonl"])


def test_raise_at_a_point_for_files_matching(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOC_FAULT", "raise:hot_copy:bad-")
    check("ingest", ["/landing/bad-1.jsonl"])  # another point
    check("hot_copy", ["/landing/good.jsonl"])  # no matching file
    with pytest.raises(InjectedFaultError, match="injected fault at hot_copy"):
        check("hot_copy", ["/landing/good.jsonl", "/landing/bad-1.jsonl"])
    monkeypatch.setenv("SOC_FAULT", "raise:index")
    with pytest.raises(InjectedFaultError):
        check("index", [])


@pytest.mark.parametrize("spec", ["explode:ingest", "raise:nowhere", "raise"])
def test_a_malformed_fault_is_refused(monkeypatch: pytest.MonkeyPatch, spec: str) -> None:
    monkeypatch.setenv("SOC_FAULT", spec)
    with pytest.raises(InjectedFaultError, match="expected ACTION:POINT"):
        check("ingest")


def test_kill_sends_sigkill_to_the_process() -> None:
    code = "from soc_platform.faults import check; check('retire', ['x']); print('survived')"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={"SOC_FAULT": "kill:retire", "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    assert proc.returncode == -9 and "survived" not in proc.stdout


def test_points_inside_steps_take_no_substring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOC_FAULT", "raise:hot_copy_slice")
    with pytest.raises(InjectedFaultError, match="injected fault at hot_copy_slice"):
        check("hot_copy_slice")
    check("aggregates_level")
    monkeypatch.setenv("SOC_FAULT", "raise:hot_copy_slice:bad-")
    with pytest.raises(InjectedFaultError, match="inside a step"):
        check("ingest", ["/landing/bad-1.jsonl"])


def test_pause_waits_until_the_marker_is_deleted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    marker = tmp_path / "paused"
    monkeypatch.setenv("SOC_FAULT", "pause:correlation_rule")
    monkeypatch.setenv("SOC_FAULT_MARKER", str(marker))
    errors: list[BaseException] = []

    def paused() -> None:
        try:
            check("correlation_rule")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    worker = threading.Thread(target=paused)
    worker.start()
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert marker.read_text().split() == [str(os.getpid()), "correlation_rule"]
    assert worker.is_alive()  # waiting for the marker to go
    marker.unlink()
    worker.join(30)
    assert not worker.is_alive() and errors == []


def test_pause_needs_a_marker_and_gives_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOC_FAULT", "pause:index")
    with pytest.raises(InjectedFaultError, match="needs SOC_FAULT_MARKER"):
        check("index")
    monkeypatch.setenv("SOC_FAULT_MARKER", str(tmp_path / "paused"))
    monkeypatch.setattr(faults, "PAUSE_LIMIT_S", 0.2)
    with pytest.raises(InjectedFaultError, match="was never deleted"):
        check("index")
