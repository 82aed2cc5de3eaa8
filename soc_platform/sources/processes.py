"""Is a process (a run worker, a ``soc-platform run``) still alive? Read from ``/proc``.

A pid alone is not an identity (pids are reused, and a container restart starts them
from 1 again), so callers compare the process's start time with what they expect.
"""

import os
import socket
from pathlib import Path

_PROC = Path("/proc")


def host_name() -> str:
    return socket.gethostname()


def _boot_time() -> float | None:
    try:
        for line in (_PROC / "stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def process_start(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds), or None when there is no such live
    process (gone, or a zombie). Where ``/proc`` is missing, a live process reports NaN
    (alive, start unknown)."""
    if pid <= 0:
        return None
    stat = _PROC / str(pid) / "stat"
    if not _PROC.joinpath("self").exists():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return float("nan")
        return float("nan")
    try:
        text = stat.read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = text[text.rfind(")") + 2 :].split()
    if not fields or fields[0] in ("Z", "X"):  # zombie or dead: the process has ended
        return None
    boot = _boot_time()
    if boot is None:
        return float("nan")
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def own_start() -> float | None:
    """When this process started (epoch seconds), if known."""
    start = process_start(os.getpid())
    return None if start is None or start != start else start  # NaN: unknown


#: How far a start time read from /proc may differ from the same process's recorded one
#: (boot time has whole-second precision).
START_TOLERANCE_S = 2.0


def is_alive(pid: int, started: float | None) -> bool:
    """Whether the process ``pid`` that started at ``started`` (None: unknown) still runs."""
    now_start = process_start(pid)
    if now_start is None:
        return False
    if started is None or now_start != now_start:
        return True
    return abs(now_start - started) <= START_TOLERANCE_S
