"""Hot store assets. A (backfill) materialization rebuilds the selected days from the lake.

Checks:
* ``hot/waf_events:lake_hot_counts_match`` (blocking): each day's row count equals the
  lake's; when it does not, correlation of those days does not run.
* ``hot/waf_events_daily_summary:aggregate_totals_match``: every aggregate level's event
  total equals the base table's for the refreshed days.
* ``hot/waf_events:hot_freshness``: the newest hot event is at most the configured lag old
  (run by ``hot_freshness_schedule``).
"""

from datetime import timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    DailyPartitionsDefinition,
    MaterializeResult,
    asset_check,
    multi_asset,
)

from assets.util import day_asset, partition_days
from soc_platform.flow import checks, steps
from soc_platform.flow.keys import (
    AGGREGATE_KEYS,
    COUNTS_CHECK,
    FRESHNESS_CHECK,
    HOT,
    RAW,
    SUMMARY,
    TOTALS_CHECK,
    check_result,
)
from soc_platform.flow.resources import HotStoreResource, LakeResource


def build_hot_assets(partitions: DailyPartitionsDefinition) -> list[AssetsDefinition]:
    @day_asset(
        HOT,
        RAW,
        partitions,
        "postgres",
        "Parsed WAF events in PostgreSQL (hypertable with 1-day chunks under "
        "TimescaleDB, native day partitions otherwise). Materializing days rebuilds them "
        "from the lake, one day per transaction.",
        check_specs=[
            AssetCheckSpec(
                COUNTS_CHECK,
                asset=HOT,
                blocking=True,
                description="Each day's hot row count equals the Iceberg lake's.",
            )
        ],
    )
    def waf_events(context: AssetExecutionContext, hot: HotStoreResource, lake: LakeResource):  # type: ignore[no-untyped-def]
        days = partition_days(context)
        store = hot.store()
        report = steps.rebuild_hot_days(store, lake.lake(), days)
        if report.skipped_days:
            context.log.warning(
                f"{len(report.skipped_days)} day(s) are older than the hot retention "
                f"({store.policy.retention_days} days) and stay in the lake only: "
                f"{report.skipped_days[0]} .. {report.skipped_days[-1]}"
            )
        yield MaterializeResult(
            metadata={
                "days": len(report.days),
                "days_skipped_past_retention": len(report.skipped_days),
                "rows": report.inserted,
                "aggregate_refresh_s": round(report.refresh_seconds, 3),
                "dialect": report.dialect,
            }
        )
        outcome = checks.check_lake_hot_counts(store, lake.lake(), report.days)
        yield check_result(outcome, COUNTS_CHECK, AssetCheckSeverity.ERROR)

    @multi_asset(
        specs=[
            AssetSpec(
                key,
                deps=[HOT],
                group_name="hot",
                partitions_def=partitions,
                kinds={"postgres"},
                description=description,
            )
            for key, description in zip(
                AGGREGATE_KEYS,
                [
                    "Events per minute by rule, client IP, host and action (continuous "
                    "aggregate under TimescaleDB, incrementally refreshed table otherwise).",
                    "Events per hour, rolled up from hot/waf_events_1m.",
                    "Events and distinct client IPs per day and rule, rolled up from "
                    "hot/waf_events_1h.",
                ],
                strict=True,
            )
        ],
        check_specs=[
            AssetCheckSpec(
                TOTALS_CHECK,
                asset=SUMMARY,
                description="Every aggregate level's event total equals waf_events' for the "
                "refreshed days.",
            )
        ],
        backfill_policy=BackfillPolicy.single_run(),
    )
    def waf_events_aggregates(context: AssetExecutionContext, hot: HotStoreResource):  # type: ignore[no-untyped-def]
        days = partition_days(context)
        store = hot.store()
        took = store.refresh_days(days)  # days past the raw retention keep their summaries
        rows = store.daily_summary(days[0], days[-1])
        for key in AGGREGATE_KEYS:
            yield MaterializeResult(
                asset_key=key,
                metadata={"days": len(days), "refresh_s": round(took, 3)}
                | (
                    {"summary_rows": len(rows), "events": sum(int(r["event_count"]) for r in rows)}
                    if key == SUMMARY
                    else {}
                ),
            )
        yield check_result(
            checks.check_aggregate_totals(store, store.retained_days(days)),
            TOTALS_CHECK,
            AssetCheckSeverity.ERROR,
            asset_key=SUMMARY,
        )

    return [waf_events, waf_events_aggregates]


def build_hot_checks() -> list[AssetChecksDefinition]:
    """Checks run by their own job (``hot_freshness_job``)."""

    @asset_check(
        asset=HOT,
        name=FRESHNESS_CHECK,
        description="The newest event in the hot table is no older than SOC_FRESHNESS_LAG_MINUTES.",
    )
    def hot_freshness(
        context: AssetCheckExecutionContext, hot: HotStoreResource
    ) -> AssetCheckResult:
        lag = timedelta(minutes=hot.freshness_lag_minutes)
        outcome = checks.check_freshness(hot.store(), lag)
        return check_result(outcome, FRESHNESS_CHECK, AssetCheckSeverity.WARN)

    return [hot_freshness]
