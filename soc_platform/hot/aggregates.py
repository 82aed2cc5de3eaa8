"""The hot store's aggregates: per-minute, per-hour and per-day summaries refreshed for the
buckets a load touched (tables under plain PostgreSQL, continuous aggregates under
TimescaleDB), and the queries over them and over the event counts."""

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from time import perf_counter
from typing import Any

import psycopg
from psycopg import sql as pgsql
from psycopg.rows import dict_row

from soc_platform import faults, sql
from soc_platform.days import day_range, day_start, each_day
from soc_platform.hot import buckets
from soc_platform.hot.policy import AGGREGATES, GEO_1M, Dialect
from soc_platform.hot.schema import Schema

_LEVEL_WIDTH = {
    **dict(zip(AGGREGATES, (buckets.MINUTE, buckets.HOUR, buckets.DAY), strict=True)),
    GEO_1M: buckets.MINUTE,
}

_LEVEL_TIME_COLUMN = {
    "waf_events_1m": "bucket",
    GEO_1M: "bucket",
    "waf_events_1h": "bucket",
    "waf_events_daily_ips": "day",  # plain dialect only
    "waf_events_daily_summary": "day",
}

#: TimescaleDB refresh calls per level and load at most (nearby ranges are merged).
MAX_CAGG_REFRESHES = 16


class Aggregates(Schema):
    """Aggregate refreshes and the read queries of counts and summaries."""

    def refresh_aggregates(self, ranges: Sequence[buckets.Range]) -> float:
        """Refresh every aggregate level for the buckets of ``ranges`` (minute-aligned or
        wider); return the seconds it took."""
        minutes = buckets.widen(ranges, buckets.MINUTE)
        started = perf_counter()
        if self.ensure_setup() is Dialect.TIMESCALE:
            self._refresh_caggs(minutes)
        else:
            with self.connect() as conn:
                # a concurrent load of these days must not interleave with the recompute
                days = buckets.widen(minutes, buckets.DAY)
                self._lock_days(conn, [d.date() for lo, hi in days for d in each_day(lo, hi)])
                self._refresh_tables(conn, minutes)
        return perf_counter() - started

    def retained_days(self, days: Sequence[date], today: date | None = None) -> list[date]:
        """``days`` that the hot table still keeps (not past the raw retention), sorted."""
        first = self.policy.first_retained_day(today or datetime.now(UTC).date())
        return sorted(d for d in set(days) if first is None or d >= first)

    def refresh_days(self, days: Sequence[date]) -> float:
        """Refresh the aggregates of whole ``days``. Days past the raw retention are left
        alone: their raw rows are gone, and a recompute would empty their summaries."""
        kept = self.retained_days(days)
        if not kept:
            return 0.0
        return self.refresh_aggregates([day_range(d) for d in kept])

    @staticmethod
    def _refresh_tables(
        conn: psycopg.Connection[Any], minutes: Sequence[buckets.Range], prune: bool = True
    ) -> None:
        """Plain dialect: refresh the touched buckets of each summary table, finest first.

        The minute and hour levels recompute their touched buckets from the level below
        and upsert them. The day level: when whole days are refreshed (rebuilds, explicit
        day refreshes) it is recomputed for those days; for a partial refresh (a load) the
        per-IP changes of the touched minutes are applied to it instead, so its cost does
        not grow with the size of the day.

        ``prune``: also delete groups of the refreshed buckets that no longer have events
        (after a rebuild or an outside change; a load only adds rows, so it skips that).
        """

        days = buckets.widen(minutes, buckets.DAY)
        whole_days = list(minutes) == days

        def run(name: str, ranges: Sequence[buckets.Range], **extra: object) -> None:
            params = {
                "los": [lo for lo, _ in ranges],
                "his": [hi for _, hi in ranges],
                "lo": ranges[0][0],
                "hi": ranges[-1][1],
                "prune": prune and not whole_days,
                **extra,
            }
            level = name.removeprefix("refresh_")
            if whole_days and level in _LEVEL_TIME_COLUMN:
                conn.execute(
                    sql.query("clear_aggregate_ranges").format(
                        table=pgsql.Identifier(level),
                        column=pgsql.Identifier(_LEVEL_TIME_COLUMN[level]),
                    ),
                    params,
                )
            conn.execute(sql.query(name), params)

        if not whole_days:
            conn.execute(sql.query("refresh_delta_open"))
            run("refresh_delta_capture", minutes, sign=-1)
        # hashing the one-minute groups (up to one per event) beats the planner's sort
        conn.execute(sql.query("refresh_work_mem"), {"sort": "off"})
        run("refresh_waf_events_1m", minutes)
        run(f"refresh_{GEO_1M}", minutes)
        faults.check("aggregates_level")  # the minute level refreshed, the coarser not
        conn.execute(sql.query("refresh_work_mem"), {"sort": "on"})
        if not whole_days:
            run("refresh_delta_capture", minutes, sign=1)
        run("refresh_waf_events_1h", buckets.widen(minutes, buckets.HOUR))
        if whole_days:
            run("refresh_waf_events_daily_ips", days)
            run("refresh_waf_events_daily_summary", days)
        else:
            conn.execute(sql.query("refresh_daily_apply_delta"))
            conn.execute(sql.query("refresh_daily_drop_empty"))

    def _refresh_caggs(self, minutes: Sequence[buckets.Range]) -> None:
        """TimescaleDB: refresh each continuous aggregate for the touched buckets, finest
        first (each level reads the one below). Outside any transaction, as required."""
        with self.connect(autocommit=True) as conn:
            for level in (*AGGREGATES, GEO_1M):
                ranges = buckets.cap(
                    buckets.widen(minutes, _LEVEL_WIDTH[level]), MAX_CAGG_REFRESHES
                )
                for lo, hi in ranges:
                    conn.execute(
                        sql.query("refresh_cagg").format(view=pgsql.Literal(level)),
                        {"lo": lo, "hi": hi},
                    )
                if level == AGGREGATES[0]:
                    faults.check("aggregates_level")  # the minute level refreshed, not more

    def daily_summary(self, start: date, end: date) -> list[dict[str, Any]]:
        with self.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                sql.query("daily_summary"),
                {"lo": day_start(start), "hi": day_start(end + timedelta(days=1))},
            )
            return list(cur.fetchall())

    def aggregate_totals(self, day: date) -> dict[str, int]:
        """Events of ``day`` as counted by the base table and by each aggregate level."""
        lo, hi = day_range(day)
        with self.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.query("aggregate_totals"), {"lo": lo, "hi": hi})
            row = cur.fetchone() or {}
        return {k: int(v) for k, v in row.items()}

    def count_events(self, start: date, end: date) -> int:
        with self.connect() as conn:
            row = conn.execute(
                sql.query("count_events"),
                {"lo": day_start(start), "hi": day_start(end + timedelta(days=1))},
            ).fetchone()
        return int(row[0]) if row else 0

    def count_events_by_day(self, days: Sequence[date]) -> dict[date, int]:
        with self.connect() as conn:
            rows = conn.execute(
                sql.query("count_events_by_day"), {"days": sorted(set(days))}
            ).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def newest_event_time(self) -> datetime | None:
        with self.connect() as conn:
            row = conn.execute(sql.query("newest_event")).fetchone()
        return row[0] if row else None
