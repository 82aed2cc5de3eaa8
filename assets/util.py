"""Shared pieces of the day-partitioned assets."""

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    DailyPartitionsDefinition,
    asset,
)


def partition_days(context: AssetExecutionContext) -> list[date]:
    """The event days of the run's partition (or partition range, for single-run backfills)."""
    window = context.partition_time_window
    first = window.start.date()
    days = (window.end.date() - first).days
    return [first + timedelta(days=i) for i in range(max(days, 1))]


def day_asset(
    key: AssetKey,
    upstream: AssetKey,
    partitions: DailyPartitionsDefinition,
    kind: str,
    description: str,
    check_specs: Sequence[AssetCheckSpec] = (),
) -> Callable[[Callable[..., Any]], AssetsDefinition]:
    """``@asset`` for a layer asset partitioned by event day: group from the key's first
    part, one upstream, backfills of a day range in a single run."""
    return asset(
        key=key,
        deps=[upstream],
        group_name=key.path[0],
        partitions_def=partitions,
        backfill_policy=BackfillPolicy.single_run(),
        kinds={kind},
        description=description,
        check_specs=list(check_specs) or None,
    )
