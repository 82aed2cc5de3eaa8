"""The hot store's dialects and its retention, compression and partitioning policy."""

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from soc_platform.settings import Settings


class Dialect(StrEnum):
    PLAIN = "plain"
    TIMESCALE = "timescale"


#: The aggregate levels, finest first: each is refreshed from the one before it.
AGGREGATES = ("waf_events_1m", "waf_events_1h", "waf_events_daily_summary")
#: By AS, country, rule and action (enrichment), from waf_events; kept like waf_events_1m.
GEO_1M = "waf_events_geo_1m"


@dataclass(frozen=True)
class HotPolicy:
    """Retention, compression and partitioning settings (see README "Configuration").

    A retention of 0 days keeps data forever.
    """

    retention_days: int = 90
    compress_after_days: int = 7
    agg_retention_days: tuple[tuple[str, int], ...] = (
        ("waf_events_1m", 180),
        ("waf_events_1h", 730),
        ("waf_events_daily_summary", 0),
    )
    partitions_ahead: int = 3
    #: a closed incident whose group fires again within this is reopened (SOC_REOPEN_WINDOW)
    reopen_window: timedelta = timedelta(hours=24)

    @classmethod
    def of_days(
        cls,
        raw: int,
        compress_after: int,
        agg_1m: int,
        agg_1h: int,
        agg_1d: int,
        reopen_window_minutes: int = 24 * 60,
    ) -> "HotPolicy":
        """A policy from the day counts of the settings (or of the Dagster resource)."""
        return cls(
            retention_days=raw,
            compress_after_days=compress_after,
            agg_retention_days=tuple(zip(AGGREGATES, (agg_1m, agg_1h, agg_1d), strict=True)),
            reopen_window=timedelta(minutes=reopen_window_minutes),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> "HotPolicy":
        return cls.of_days(
            settings.hot_retention_days,
            settings.hot_compress_after_days,
            settings.agg_1m_retention_days,
            settings.agg_1h_retention_days,
            settings.agg_1d_retention_days,
            settings.reopen_window_minutes,
        )

    def first_retained_day(self, today: date) -> date | None:
        """The oldest event day the hot table keeps (None: every day)."""
        return today - timedelta(days=self.retention_days) if self.retention_days else None
