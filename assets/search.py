"""The incident index. A materialization upserts the days' incidents into the backend."""

from datetime import timedelta

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetsDefinition,
    DailyPartitionsDefinition,
    MaterializeResult,
    asset_check,
)

from assets.util import day_asset, partition_days
from soc_platform.days import day_start
from soc_platform.flow import steps
from soc_platform.flow.checks import alerts_check, search_backlog_check
from soc_platform.flow.keys import ALERTS_CHECK, BACKLOG_CHECK, INCIDENTS, INDEX, check_result
from soc_platform.flow.resources import HotStoreResource, SearchResource


def build_search_assets(partitions: DailyPartitionsDefinition) -> list[AssetsDefinition]:
    @day_asset(
        INDEX,
        INCIDENTS,
        partitions,
        "meilisearch",
        "Incidents searchable by free text (Meilisearch index `incidents`, or "
        "the embedded PostgreSQL full-text + trigram backend).",
    )
    def incident_index(
        context: AssetExecutionContext, hot: HotStoreResource, search: SearchResource
    ) -> MaterializeResult:  # type: ignore[type-arg]
        days = partition_days(context)
        store = hot.store()
        start, end = day_start(days[0]), day_start(days[-1]) + timedelta(days=1)
        backend = search.backend(store)
        # the backlog first (what any write queued), then the days' incidents rewritten and
        # the documents of those that no longer exist pruned
        drained = steps.drain_search_backlog(store, backend)
        found = store.list_incidents(start=start, end=end, limit=1_000_000)
        count = steps.rewrite_index(backend, found)
        pruned = backend.prune(start, end, [i.id for i in found])
        return MaterializeResult(
            metadata={
                "indexed": count,
                "pruned": pruned,
                "backlog_drained": drained.upserted + drained.deleted + drained.cleared,
                "pending": drained.pending,
                "backend": backend.name,
            }
        )

    return [incident_index]


@asset_check(
    asset=INDEX,
    name=ALERTS_CHECK,
    description='No incident notification is dead (README "Alerting"): a notification that '
    "kept failing is named here. Evaluated by every micro-batch's send_alerts step and by "
    "alerts_job.",
)
def alerts_delivered(hot: HotStoreResource) -> AssetCheckResult:
    return check_result(alerts_check(hot.store()), ALERTS_CHECK, AssetCheckSeverity.ERROR)


@asset_check(
    asset=INDEX,
    name=BACKLOG_CHECK,
    description='No incident waits for the search backend (README "Search"): warns with how '
    "many and the oldest's age while Meilisearch is behind the incidents table. Evaluated by "
    "every micro-batch's index_incidents step too.",
)
def search_backlog_empty(hot: HotStoreResource) -> AssetCheckResult:
    return check_result(search_backlog_check(hot.store()), BACKLOG_CHECK, AssetCheckSeverity.WARN)


def build_search_checks() -> list[AssetChecksDefinition]:
    return [alerts_delivered, search_backlog_empty]
