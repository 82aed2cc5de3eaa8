"""The incident index. A materialization upserts the days' incidents into the backend."""

from datetime import timedelta

from dagster import (
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    DailyPartitionsDefinition,
    MaterializeResult,
    asset,
)

from assets.util import partition_days
from soc_platform import pipeline
from soc_platform.resources import HotStoreResource, SearchResource
from soc_platform.stores.hot import day_start


def build_search_assets(partitions: DailyPartitionsDefinition) -> list:  # type: ignore[type-arg]
    @asset(
        key=AssetKey(["search", "incident_index"]),
        deps=[AssetKey(["detection", "incidents"])],
        group_name="search",
        partitions_def=partitions,
        backfill_policy=BackfillPolicy.single_run(),
        kinds={"meilisearch"},
        description="Incidents searchable by free text (Meilisearch index `incidents`, or "
        "the embedded PostgreSQL full-text + trigram backend).",
    )
    def incident_index(
        context: AssetExecutionContext, hot: HotStoreResource, search: SearchResource
    ) -> MaterializeResult:  # type: ignore[type-arg]
        days = partition_days(context)
        store = hot.store()
        found = store.list_incidents(
            start=day_start(days[0]), end=day_start(days[-1]) + timedelta(days=1), limit=1_000_000
        )
        backend = search.backend(store)
        count = pipeline.index_incidents(backend, found)
        return MaterializeResult(metadata={"indexed": count, "backend": backend.name})

    return [incident_index]
