"""Test-only fault injection: make a micro-batch fail, or die, at a named point.

``SOC_FAULT=ACTION:POINT[:SUBSTRING]`` (unset in production):

* ``ACTION`` is ``raise`` (the step fails with :class:`InjectedFaultError`) or ``kill`` (the
  process sends itself SIGKILL, as ``kill -9`` would).
* ``POINT`` is where the micro-batch checks: ``ingest`` (before reading its files),
  ``lake_commit`` (after the lake append), ``hot_copy`` (before the hot load),
  ``aggregates`` (after hot rows and aggregates are committed), ``correlation``,
  ``index`` (before those steps) and ``retire`` (before its landing files are retired).
* ``SUBSTRING``, when given, limits the fault to runs holding a file whose path contains it.

The fault-injection suite uses it to stop a run at every stage boundary; tests use it to
make one file fail deterministically.
"""

import os
import signal
from collections.abc import Sequence

from soc_platform.errors import SocPlatformError
from soc_platform.settings import fault_spec

POINTS = ("ingest", "lake_commit", "hot_copy", "aggregates", "correlation", "index", "retire")
ACTIONS = ("raise", "kill")


class InjectedFaultError(SocPlatformError):
    """Raised at a fault point named by SOC_FAULT."""


def check(point: str, files: Sequence[str] = ()) -> None:
    """Fire the configured fault if it names ``point`` (and one of ``files``)."""
    spec = fault_spec()
    if not spec:
        return
    action, _, rest = spec.partition(":")
    where, _, substring = rest.partition(":")
    if action not in ACTIONS or where not in POINTS:
        raise InjectedFaultError(
            f"SOC_FAULT={spec!r}: expected ACTION:POINT[:SUBSTRING] with ACTION one of "
            f"{', '.join(ACTIONS)} and POINT one of {', '.join(POINTS)}"
        )
    if where != point or (substring and not any(substring in f for f in files)):
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise InjectedFaultError(f"injected fault at {point} (SOC_FAULT={spec})")
