"""What every log-format parser returns, and the limits every parser enforces."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa

#: Default of ``SOC_MAX_LINE_BYTES``: a longer line is a dead letter ``too_large``.
DEFAULT_MAX_LINE_BYTES = 1 << 20
#: How much of a too-large line its dead letter keeps (the size and a hash of the whole
#: line are in its detail).
TOO_LARGE_KEEP_BYTES = 4096
#: Arrays and objects nested deeper than this make a line ``too_deep`` (no log format
#: needs more than a few levels; a deep line is garbage or an attack on JSON parsers).
MAX_NESTING_DEPTH = 64
#: Event times are accepted from the Unix epoch up to this long after ingestion. A later
#: time is a WAF clock gone wrong (timezone mix-ups stay within 14 hours); it is a dead
#: letter ``out_of_range`` rather than an event dated in a day that has not come.
EARLIEST_EVENT_TIME = datetime(1970, 1, 1, tzinfo=UTC)
MAX_FUTURE_SKEW = timedelta(days=1)
#: Never later than this, whatever the ingestion time: a year of margin below the largest
#: datetime keeps every day, bucket and window computed from an event time representable.
LATEST_EVENT_TIME = datetime(9999, 1, 1, tzinfo=UTC)


def latest_event_time(ingested_at: datetime) -> datetime:
    """The latest event time accepted from lines ingested at ``ingested_at``."""
    if ingested_at >= LATEST_EVENT_TIME - MAX_FUTURE_SKEW:
        return LATEST_EVENT_TIME
    return min(ingested_at + MAX_FUTURE_SKEW, LATEST_EVENT_TIME)


@dataclass(frozen=True)
class ParseResult:
    """Canonical events (lake schema, raw line included) and dead letters of one input.

    ``events_altered`` counts events whose parsed fields differ from what the line says,
    by why (``nul_replaced``: a NUL character, which PostgreSQL text cannot hold, became
    U+FFFD); the ``raw`` column still holds those lines verbatim.
    """

    events: pa.Table
    dead_letters: pa.Table
    lines_read: int
    events_altered: dict[str, int] = field(default_factory=dict)

    def dead_letter_counts(self) -> dict[str, int]:
        """Dead letters per reason."""
        if self.dead_letters.num_rows == 0:
            return {}
        counts = self.dead_letters["reason"].value_counts().to_pylist()
        return {c["values"]: c["counts"] for c in counts}
