"""Runs the command line executes in process: a partition-range run of some assets (a
backfill of days from the lake, a retro-hunt), recorded in the Dagster instance like a
backfill launched from the UI."""

from datetime import date
from typing import Any

from dagster import AssetKey, DagsterInstance

from soc_platform.flow.instance import prepare_dagster_home
from soc_platform.flow.runreport import for_terminal
from soc_platform.settings import Settings


def run_day_range(
    settings: Settings,
    selection: list[AssetKey],
    start: date,
    end: date,
    trigger: str,
    *,
    ops: dict[str, Any] | None = None,
    verbose: bool = False,
) -> Any:
    """Materialize ``selection`` for the day partitions [start, end] in one run, in this
    process (``ops``: run config of the ops; ``trigger``: the ``soc/trigger`` tag). Returns
    Dagster's ``ExecuteInProcessResult`` (not raised on a failure)."""
    from soc_platform.definitions import build_definitions

    prepare_dagster_home(settings)
    defs = build_definitions(settings)
    job = for_terminal(defs.resolve_implicit_global_asset_job_def(), verbose)
    level = "DEBUG" if verbose else "WARNING"
    run_config: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": level}}}}
    if ops:
        run_config["ops"] = ops
    with DagsterInstance.get() as instance:
        return job.execute_in_process(
            instance=instance,
            asset_selection=selection,
            run_config=run_config,
            tags={
                "dagster/asset_partition_range_start": start.isoformat(),
                "dagster/asset_partition_range_end": end.isoformat(),
                "soc/trigger": trigger,
            },
            raise_on_error=False,
        )
