"""The test-only fault hook (soc_platform.faults): it fires where and for whom it is told."""

import subprocess
import sys
from pathlib import Path

import pytest

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
