"""TimescaleDB dialect, under a session time zone that is not UTC.

The hot store asks for ``TimeZone=UTC`` as a startup option; this server ignores startup
options (so would PgBouncer configured with ``ignore_startup_parameters = options``), and
the suite's session runs in Asia/Kathmandu (+05:45). Day buckets, runs of windows ("runs
end at midnight UTC") and incident ids must not move: the same events give the same
incidents as on plain PostgreSQL in a UTC session.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from soc_platform.correlation.detection import default_detection
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.incidents import engine
from soc_platform.models import Incident
from soc_platform.parsing import get_parser, split_lines
from tests.helpers import sqli_burst, to_jsonl
from tests.timescale.pglite import SESSION_TIME_ZONE, hot_store, insert_and_refresh

pytestmark = pytest.mark.timescale

DAY = date(2026, 3, 10)
SQLI = default_detection().only("waf-sqli-burst")


def parse(records: list[dict[str, Any]]) -> pa.Table:
    result = get_parser("waf_json")(split_lines(to_jsonl(records).encode()), "t", datetime.now(UTC))
    assert result.dead_letters.num_rows == 0
    return result.events


def spans(incidents: list[Incident]) -> list[tuple[str, datetime, datetime, int]]:
    return sorted(
        (i.id, i.start_time.astimezone(UTC), i.end_time.astimezone(UTC), i.event_count)
        for i in incidents
    )


def test_the_session_zone_is_not_utc_here(tsdb_dsn: str) -> None:
    """The premise of this module: the product's startup option does not reach this server."""
    hot = hot_store(tsdb_dsn)
    hot.setup()
    with hot.connect() as conn:
        assert conn.execute("SHOW TimeZone").fetchone() == (SESSION_TIME_ZONE,)


def test_times_come_back_in_utc(tsdb_dsn: str) -> None:
    hot = hot_store(tsdb_dsn)
    hot.setup()
    late_evening = datetime(2026, 3, 10, 23, 59, 30, tzinfo=UTC)  # 05:44:30 on the 11th there
    insert_and_refresh(hot, parse(sqli_burst(late_evening, "192.0.2.40", n=3)))
    newest = hot.newest_event_time()
    assert newest == late_evening + timedelta(seconds=10)
    assert newest is not None and newest.tzinfo is UTC
    summary = hot.daily_summary(DAY, DAY + timedelta(days=1))
    assert [(r["day"], r["day"].tzinfo) for r in summary] == [
        (datetime(2026, 3, 10, tzinfo=UTC), UTC)
    ]


def test_runs_split_at_utc_midnight_whatever_the_session_zone(tsdb_dsn: str, pg_dsn: str) -> None:
    """Two SQL injection bursts: one across midnight UTC (two incidents: runs end at
    midnight UTC), one across midnight in the session's zone, 18:15 UTC (one incident)."""
    nxt = DAY + timedelta(days=1)
    at_utc_midnight = datetime(2026, 3, 11, 0, 0, tzinfo=UTC) - timedelta(minutes=3)
    at_local_midnight = datetime(2026, 3, 10, 18, 15, tzinfo=UTC) - timedelta(minutes=3)
    events = pa.concat_tables(
        [
            parse(sqli_burst(at_utc_midnight, "192.0.2.50", n=72)),  # 6 minutes
            parse(sqli_burst(at_local_midnight, "192.0.2.51", n=72)),
        ]
    )
    found = {}
    keep_all = HotPolicy(retention_days=0)
    for name, hot in (
        ("timescale", hot_store(tsdb_dsn)),
        ("plain", HotStore(pg_dsn, policy=keep_all)),
    ):
        hot.setup()
        if name == "timescale":
            insert_and_refresh(hot, events)
        else:
            hot.load_events(events)
        found[name] = spans(engine.correlate_days(hot, [DAY, nxt], SQLI).incidents)
        assert hot.count_events_by_day([DAY, nxt]) == {DAY: 72 + 36, nxt: 36}
        assert [
            (r["day"].astimezone(UTC).date(), r["event_count"]) for r in hot.daily_summary(DAY, nxt)
        ] == [(DAY, 108), (nxt, 36)]
    assert found["timescale"] == found["plain"]
    # across midnight UTC: two runs (the first counts the events of its last window, which
    # reaches past midnight); across midnight in the session's zone: one run
    assert sorted((start, n) for _, start, _, n in found["plain"]) == sorted(
        [
            (at_local_midnight, 72),
            (at_utc_midnight, 72),
            (datetime(2026, 3, 11, tzinfo=UTC), 36),
        ]
    )
