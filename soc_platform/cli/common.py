"""Helpers the command groups share: output, the hot store, day arguments, the stores' preflight."""

import argparse
import sys
from datetime import date, datetime
from typing import Any

from soc_platform.errors import SocPlatformError
from soc_platform.settings import Settings

SAMPLE_QUERY = "blocked attempts from 192.168"


def _print(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _hot(settings: Settings) -> Any:
    from soc_platform import factory

    return factory.hot_store(settings)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from None


def _fmt_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ")


def preflight(settings: Settings) -> None:
    """Reach the hot store and the lake before starting a run, so a misconfiguration is
    reported as one clear line rather than as a failed Dagster step."""
    from soc_platform import factory

    _hot(settings)
    factory.lake(settings).ensure_tables()


def _one_line(exc: BaseException) -> str:
    """Why a run failed, in one line: our own error's message, else the innermost cause
    (the exception a step raised, not Dagster's wrapper around it)."""
    cause: BaseException | None = _root_cause(exc)
    if cause is not None:
        return (str(cause).strip() or type(cause).__name__).splitlines()[0]
    cur, seen = exc, {id(exc)}
    while True:
        nxt = getattr(cur, "user_exception", None) or cur.__cause__
        if nxt is None or id(nxt) in seen:
            break
        seen.add(id(nxt))
        cur = nxt
    text = str(cur).strip()
    return f"{type(cur).__name__}: {text.splitlines()[0]}" if text else type(cur).__name__


def _root_cause(exc: BaseException) -> SocPlatformError | None:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, SocPlatformError):
            return cur
        seen.add(id(cur))
        nxt = getattr(cur, "user_exception", None) or cur.__cause__ or cur.__context__
        cur = nxt
    return None
