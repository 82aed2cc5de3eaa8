"""`soc-platform dev` as a test drives it (the daemon and landing kill tests): started in a
process group of its own, its output in a log file; and a polling wait."""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from soc_platform.hot.embedded import free_port

CLI = [sys.executable, "-m", "soc_platform.cli"]
T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T | None], timeout: float, step: float = 0.2) -> T:
    """``check()``'s first true value, polled every ``step`` s; fails after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Dev:
    """`soc-platform dev` in a process group of its own, its output in a log file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.proc = subprocess.Popen(
            [*CLI, "dev", "--port", str(self.port), "--ui-port", str(free_port())],
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def ready(self) -> bool:
        assert self.proc.poll() is None, self.log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/server_info") as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def text(self) -> str:
        return re.sub(r"\x1b\[[0-9;]*m", "", self.log.read_text(errors="replace"))

    def log_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def group(self) -> list[int]:
        """The live processes of its process group (a code server outlives `dagster dev`)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            fields = text[text.rfind(")") + 2 :].split()
            if int(fields[2]) == self.proc.pid and fields[0] not in ("Z", "X"):
                found.append(int(stat.parent.name))
        return found

    def daemon_pid(self) -> int:
        for pid in self.group():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"dagster._daemon" in cmd:
                return pid
        raise AssertionError(f"no dagster-daemon among {self.group()}")

    def kill(self, sig: int) -> None:
        """``sig`` to the group; SIGKILL if it has not ended within 90 s."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL to whatever of it is left."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                pass
        for pid in self.group():
            os.kill(pid, signal.SIGKILL)
        self.proc.wait()
