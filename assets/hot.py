"""Hot store assets. A (backfill) materialization rebuilds the selected days from the lake."""

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    DailyPartitionsDefinition,
    MaterializeResult,
)

from assets.util import day_asset, partition_days
from soc_platform import pipeline
from soc_platform.resources import HotStoreResource, LakeResource


def build_hot_assets(partitions: DailyPartitionsDefinition) -> list[AssetsDefinition]:
    @day_asset(
        "hot/waf_events",
        "lake/raw_waf_events",
        partitions,
        "postgres",
        "Parsed WAF events in PostgreSQL (hypertable with 1-day chunks under "
        "TimescaleDB, native day partitions otherwise). Materializing days rebuilds them "
        "from the lake.",
    )
    def waf_events(
        context: AssetExecutionContext, hot: HotStoreResource, lake: LakeResource
    ) -> MaterializeResult:  # type: ignore[type-arg]
        days = partition_days(context)
        report = pipeline.rebuild_hot_days(hot.store(), lake.lake(), days)
        return MaterializeResult(
            metadata={"days": len(days), "rows": report.inserted, "dialect": report.dialect}
        )

    @day_asset(
        "hot/waf_events_daily_summary",
        "hot/waf_events",
        partitions,
        "postgres",
        "Events and distinct client IPs per day and rule (continuous aggregate "
        "under TimescaleDB, incrementally refreshed table otherwise).",
    )
    def waf_events_daily_summary(
        context: AssetExecutionContext, hot: HotStoreResource
    ) -> MaterializeResult:  # type: ignore[type-arg]
        days = partition_days(context)
        store = hot.store()
        store.refresh_daily_summary(days)
        rows = store.daily_summary(days[0], days[-1])
        return MaterializeResult(
            metadata={
                "days": len(days),
                "summary_rows": len(rows),
                "events": sum(int(r["event_count"]) for r in rows),
            }
        )

    return [waf_events, waf_events_daily_summary]
