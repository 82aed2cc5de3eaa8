"""Test-only fault injection: make a micro-batch fail, die or pause at a named point.

``SOC_FAULT=ACTION:POINT[:SUBSTRING]`` (unset in production):

* ``ACTION`` is ``raise`` (the step fails with :class:`InjectedFaultError`), ``kill`` (the
  process sends itself SIGKILL, as ``kill -9`` would) or ``pause``: the process writes the
  file named by ``SOC_FAULT_MARKER`` (its pid and the point) and waits until that file is
  deleted (polled every 50 ms; after 120 s the step fails), so a test can kill *other*
  processes (the PostgreSQL server, the Dagster daemon) at that exact moment.
* ``POINT`` is where the micro-batch checks, in the order a run passes them. At the
  boundaries of its steps: ``ingest`` (before reading its files), ``lake_commit`` (after
  the lake appends), ``hot_copy`` (before the hot load), ``aggregates`` (after hot rows and
  aggregates are committed), ``correlation``, ``index`` (before those steps) and
  ``retire`` (before its landing files are retired). Inside the steps, where a crash
  leaves a store half-written: ``parse`` (the first block of the batch parsed, the rest
  not), ``lake_dead_letters`` (dead letters appended to the lake, events not yet),
  ``lake_data_written`` (the events' Parquet data files written, the Iceberg catalog
  commit not done), ``hot_copy_slice`` (inside the COPY transaction, after the first
  slice, before the commit), ``aggregates_level`` (between two aggregate levels of a
  refresh), ``correlation_rule`` (the rules evaluated, their incidents not stored),
  ``index_partial`` (the search backlog sent to the backend, its entries not yet removed:
  they are sent again) and ``retire_file`` (the first file out of landing, the ledger not yet told).
* ``SUBSTRING``, when given, limits the fault to runs holding a file whose path contains
  it. Only the step boundaries know the run's files: a point inside a step takes none.

The fault-injection suite (``tests/faults/``) kills runs at every point; other tests use it
to make one file fail deterministically.
"""

import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path

from soc_platform.errors import SocPlatformError
from soc_platform.settings import fault_marker, fault_spec

#: The step boundaries (each knows the run's files).
BOUNDARIES = ("ingest", "lake_commit", "hot_copy", "aggregates", "correlation", "index", "retire")
#: Points inside the steps (stores and pure steps, which do not know the run's files).
INSIDE = (
    "parse",
    "lake_dead_letters",
    "lake_data_written",
    "hot_copy_slice",
    "aggregates_level",
    "correlation_rule",
    "index_partial",
    "retire_file",
)
#: Every point, in the order a micro-batch reaches them.
POINTS = (
    "ingest",
    "parse",
    "lake_dead_letters",
    "lake_data_written",
    "lake_commit",
    "hot_copy",
    "hot_copy_slice",
    "aggregates_level",
    "aggregates",
    "correlation",
    "correlation_rule",
    "index",
    "index_partial",
    "retire",
    "retire_file",
)
#: Alerting's sender (soc_platform/alerts/sender.py): ``alert_sent`` is after a message
#: reached its receiver and before the outbox records it (at most a resend, never a loss).
ALERTING = ("alert_sent",)
ACTIONS = ("raise", "kill", "pause")
PAUSE_POLL_S = 0.05
PAUSE_LIMIT_S = 120.0


class InjectedFaultError(SocPlatformError):
    """Raised at a fault point named by SOC_FAULT."""


def check(point: str, files: Sequence[str] = ()) -> None:
    """Fire the configured fault if it names ``point`` (and one of ``files``)."""
    spec = fault_spec()
    if not spec:
        return
    action, _, rest = spec.partition(":")
    where, _, substring = rest.partition(":")
    if action not in ACTIONS or where not in POINTS + ALERTING:
        raise InjectedFaultError(
            f"SOC_FAULT={spec!r}: expected ACTION:POINT[:SUBSTRING] with ACTION one of "
            f"{', '.join(ACTIONS)} and POINT one of {', '.join(POINTS + ALERTING)}"
        )
    if substring and where in INSIDE + ALERTING:
        raise InjectedFaultError(
            f"SOC_FAULT={spec!r}: {where} is inside a step, which does not know the run's "
            f"files: give no SUBSTRING (only {', '.join(BOUNDARIES)} take one)"
        )
    if where != point or (substring and not any(substring in f for f in files)):
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if action == "pause":
        _pause(point, spec)
        return
    raise InjectedFaultError(f"injected fault at {point} (SOC_FAULT={spec})")


def _pause(point: str, spec: str) -> None:
    """Write the marker file, then wait until someone deletes it."""
    marker = fault_marker()
    if not marker:
        raise InjectedFaultError(f"SOC_FAULT={spec!r} needs SOC_FAULT_MARKER (a file path)")
    path = Path(marker)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{os.getpid()} {point}\n")
    tmp.replace(path)  # whole or absent: a test reading it never sees half a line
    deadline = time.monotonic() + PAUSE_LIMIT_S
    while path.exists():
        if time.monotonic() > deadline:
            raise InjectedFaultError(
                f"paused at {point} for {PAUSE_LIMIT_S:.0f} s and {marker} was never deleted"
            )
        time.sleep(PAUSE_POLL_S)
