from datetime import date, timedelta

from dagster import AssetExecutionContext


def partition_days(context: AssetExecutionContext) -> list[date]:
    """The event days of the run's partition (or partition range, for single-run backfills)."""
    window = context.partition_time_window
    first = window.start.date()
    days = (window.end.date() - first).days
    return [first + timedelta(days=i) for i in range(max(days, 1))]
