"""The micro-batch: one run takes landing files through lake, hot store, correlation and
search, reporting a materialization for every event-day partition it touched, then takes
its files out of landing. The sensor claims the files of each run in the landing ledger
(shared with ``soc-platform run``) and retries the files of failed runs itself."""

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from dagster import (
    AssetCheckSeverity,
    AssetKey,
    AssetMaterialization,
    Config,
    DailyPartitionsDefinition,
    DefaultSensorStatus,
    Failure,
    In,
    JobDefinition,
    MetadataValue,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    in_process_executor,
    job,
    op,
    sensor,
)
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition as UnresolvedAssetJob,
)

from sensors.alerts import send_alerts
from soc_platform import faults
from soc_platform.flow import checks, steps
from soc_platform.flow.instance import CLAIM_TAG, claim_run
from soc_platform.flow.keys import (
    AGGREGATE_KEYS,
    BACKLOG_CHECK,
    COUNTS_CHECK,
    DEAD,
    HOT,
    INCIDENTS,
    INDEX,
    QUARANTINE_CHECK,
    RAW,
    RULES_CHECK,
    check_evaluation,
)
from soc_platform.flow.resources import (
    DetectionResource,
    EnrichmentResource,
    HotStoreResource,
    LakeResource,
    LandingResource,
    SearchResource,
)
from soc_platform.flow.source_resources import NatsSourceResource, S3SourceResource
from soc_platform.incidents import engine
from soc_platform.lake.tables import time_spans
from soc_platform.sources import lifecycle
from soc_platform.sources.planning import next_cursor, skip_reason

#: Tags of every micro-batch run. Dagster does not retry them (``dagster/max_retries``
#: 0): the sensor owns retries, per file, with backoff and bisection; two stacked retry
#: mechanisms would re-run a bad batch whole before it is halved. A run still running
#: after an hour is failed by run monitoring (it holds the one micro-batch slot).
RUN_TAGS = {
    "soc/pipeline": "microbatch",
    "dagster/max_retries": "0",
    "dagster/max_runtime": "3600",
}


class MicrobatchConfig(Config):
    files: list[str]
    source_format: str = ""  # empty: the source's own setting (SOC_LANDING_FORMAT, ...)
    source: str = "local"  # local (landing paths), s3 (object keys) or nats (fetches itself)


def _run_files(context: OpExecutionContext) -> list[str]:
    """The run's landing files (the ingest step's config), for the fault points."""
    config: dict[str, Any] = dict(context.run_config)
    files = config.get("ops", {}).get("ingest_landing_files", {}).get("config", {}).get("files")
    return [str(f) for f in files or []]


def _partition_events(
    context: OpExecutionContext,
    partitions: DailyPartitionsDefinition,
    key: AssetKey,
    days: list[date],
    metadata: dict[str, Any],
) -> Iterator[AssetMaterialization]:
    known = set(partitions.get_partition_keys())
    for day in days:
        part = day.isoformat()
        if part in known:
            yield AssetMaterialization(asset_key=key, partition=part, metadata=metadata)
        else:
            context.log.warning(
                f"{key.to_user_string()}: events of {part} are stored, but that day is outside "
                "the partition range (SOC_PARTITIONS_START..today), so no partition is marked"
            )


def build_microbatch_job(partitions: DailyPartitionsDefinition) -> JobDefinition:
    """The job the sensor launches (and ``soc-platform run`` executes in process)."""

    @op(out=Out(steps.IngestReport, io_manager_key="mem_io"))
    def ingest_landing_files(
        context: OpExecutionContext,
        config: MicrobatchConfig,
        lake: LakeResource,
        landing: LandingResource,
        s3: S3SourceResource,
        nats: NatsSourceResource,
        enrichment: EnrichmentResource,
    ) -> Iterator[AssetMaterialization | Output[steps.IngestReport]]:
        from sensors.sources import read_batch

        faults.check("ingest", config.files)
        with enrichment.open() as enricher:
            report = read_batch(
                config.source,
                config.files,
                config.source_format,
                lake,
                landing,
                s3,
                nats,
                enrich=enricher,
            )
        faults.check("lake_commit", config.files)
        meta: dict[str, Any] = {
            "files": report.files,
            "lines_read": report.lines_read,
            "events_parsed": report.parsed,
            "events_appended": report.appended,
            "duplicates_skipped": report.duplicates,
            "dead_letters": report.dead_letters,
            "files_failed": len(report.files_failed),
            "source": report.source,
            **{f"events_altered/{k}": v for k, v in report.events_altered.items()},
            **report.source_lag,
        }
        for path, why in report.files_failed.items():
            context.log.warning(f"could not read all of {path}: {why}")
        context.log.info(f"ingested {meta}; dead letters by reason: {report.dead_letter_reasons}")
        yield from _partition_events(context, partitions, RAW, report.new_days, meta)
        yield AssetMaterialization(
            asset_key=DEAD,
            metadata={
                "dead_letters": report.dead_letters,
                "dead_letters_new": report.dead_letters_new,
                "by_reason": MetadataValue.json(report.dead_letter_reasons),
                **{f"reason/{k}": v for k, v in report.dead_letter_reasons.items()},
            },
        )
        yield Output(
            report,
            metadata={
                **meta,
                "dead_letters_by_reason": MetadataValue.json(report.dead_letter_reasons),
            },
        )

    @op(ins={"ingest": In(steps.IngestReport, input_manager_key="mem_io")}, out=Out(Nothing))
    def load_hot_store(
        context: OpExecutionContext,
        ingest: steps.IngestReport,
        hot: HotStoreResource,
        lake: LakeResource,
    ) -> Iterator[AssetMaterialization]:
        store = hot.store()
        faults.check("hot_copy", _run_files(context))
        report = steps.load_hot(store, ingest.events)
        faults.check("aggregates", _run_files(context))
        meta = {
            "rows_inserted": report.inserted,
            "duplicates_skipped": report.duplicates,
            "outside_retention": report.outside_retention,
            "aggregate_refresh_s": round(report.refresh_seconds, 3),
            "dialect": report.dialect,
        }
        context.log.info(f"hot load: {meta}")
        if report.outside_retention:
            context.log.warning(
                f"{report.outside_retention} events are older than the hot retention "
                f"({store.policy.retention_days} days): stored in the lake only"
            )
        # blocking: correlation must not run over days the hot store holds only partly
        # only what this batch touched (its time spans), not the whole day
        spans = time_spans(ingest.events["event_time"])
        outcome = checks.check_lake_hot_counts(store, lake.lake(), report.days, spans=spans)
        context.log_event(
            check_evaluation(outcome, HOT, COUNTS_CHECK, AssetCheckSeverity.ERROR)  # type: ignore[arg-type]  # accepted at run time
        )
        # (events logged with log_event are emitted with the next yielded event)
        yield from _partition_events(context, partitions, HOT, report.days, meta)
        for key in AGGREGATE_KEYS:
            yield from _partition_events(
                context, partitions, key, report.days, {"refresh_s": meta["aggregate_refresh_s"]}
            )
        if not outcome.passed:
            raise Failure(description=f"{COUNTS_CHECK} failed: {outcome.description}")

    @op(
        ins={
            "ingest": In(steps.IngestReport, input_manager_key="mem_io"),
            "after_load": In(Nothing),
        },
        out=Out(engine.CorrelationReport, io_manager_key="mem_io"),
    )
    def correlate_incidents(
        context: OpExecutionContext,
        ingest: steps.IngestReport,
        hot: HotStoreResource,
        detection: DetectionResource,
    ) -> Iterator[AssetMaterialization | Output[engine.CorrelationReport]]:
        faults.check("correlation", _run_files(context))
        loaded = detection.load()
        for problem in loaded.rules.problems:
            context.log.warning(f"rule not running: {problem}")
        report = engine.correlate(hot.store(), ingest.events["event_time"], loaded)
        for name, why in report.rule_errors.items():
            context.log.error(f"rule {name} failed in PostgreSQL, skipped: {why}")
        # the rule set's check, every batch: a broken rule shows within a minute
        check = checks.rule_set_check(loaded.rules, report.rule_errors)
        context.log_event(
            check_evaluation(check, INCIDENTS, RULES_CHECK, AssetCheckSeverity.WARN)  # type: ignore[arg-type]  # accepted at run time
        )
        meta: dict[str, Any] = {
            "rules": len(loaded.rules.rules),
            "rule_problems": len(loaded.rules.problems) + len(report.rule_errors),
            "incidents_suppressed": report.suppressed,
            "windows_evaluated": report.windows_evaluated,
            "incidents_matched": len(report.incidents),
            "incidents_changed": report.changed,
            "incidents_superseded": len(report.superseded),
            "per_rule": MetadataValue.json(report.per_rule),
        }
        context.log.info(f"correlation: {meta}")
        # the batch's event days were re-evaluated, whether or not they hold incidents
        yield from _partition_events(context, partitions, INCIDENTS, ingest.days, meta)
        yield Output(report, metadata=dict(meta))

    @op(
        ins={
            "ingest": In(steps.IngestReport, input_manager_key="mem_io"),
            "correlation": In(engine.CorrelationReport, input_manager_key="mem_io"),
        },
        out=Out(Nothing),
    )
    def index_incidents(
        context: OpExecutionContext,
        ingest: steps.IngestReport,
        correlation: engine.CorrelationReport,
        hot: HotStoreResource,
        search: SearchResource,
    ) -> Iterator[AssetMaterialization | Output[None]]:
        faults.check("index", _run_files(context))
        store = hot.store()
        backend = search.backend(store)
        # the backlog the batch's incident writes queued (and any left by an earlier run).
        # The incidents are stored: a backend that cannot take them leaves them queued and
        # the run goes on (its files retire), saying so in one line
        report = steps.index_incidents(store, backend)
        meta: dict[str, Any] = {
            "indexed": report.upserted,
            "deleted": report.deleted,
            "pending": report.pending,
            "backend": backend.name,
        }
        if report.error:
            line = steps.pending_line(report)
            meta["pending_reason"] = line
            context.log.warning(line)
        else:
            context.log.info(
                f"indexed {report.upserted} incidents in the {backend.name} backend "
                f"({report.deleted} deleted, {report.pending} pending)"
            )
        outcome = checks.search_backlog_check(store)
        context.log_event(
            check_evaluation(outcome, INDEX, BACKLOG_CHECK, AssetCheckSeverity.WARN)  # type: ignore[arg-type]  # accepted at run time
        )
        yield from _partition_events(context, partitions, INDEX, ingest.days, meta)
        yield Output(None, metadata=meta)  # the run's summary reads pending from here

    @op(
        ins={
            "ingest": In(steps.IngestReport, input_manager_key="mem_io"),
            "after_index": In(Nothing),
        },
        out=Out(Nothing),
    )
    def retire_landing_files(
        context: OpExecutionContext,
        ingest: steps.IngestReport,
        hot: HotStoreResource,
        landing: LandingResource,
        s3: S3SourceResource,
        nats: NatsSourceResource,
    ) -> None:
        """The batch is in the lake, the hot store and the index: its files leave landing
        (deleted or archived) and the ledger; a file read only partly is quarantined.
        (NATS: its messages are acknowledged now.)"""
        from sensors.sources import confirm_messages, source_area

        faults.check("retire", _run_files(context))
        if ingest.source == "nats":
            confirm_messages(context, ingest, nats)
            return
        area = source_area(ingest.source, landing, s3)
        ledger = area.ledger(hot.store())
        token = context.run.tags.get(CLAIM_TAG)
        report = lifecycle.retire(ledger, area, token, ingest.files_failed, datetime.now(UTC))
        if not token:
            context.log.info("run holds no landing-ledger claim: its files stay in landing")
        for path, moved in report.quarantined.items():
            context.log.error(f"quarantined {path} (read only partly) -> {moved}")
        for path in report.changed:
            context.log.warning(f"{path} changed during the run: it stays, to be read again")
        context.log.info(
            f"landing: {len(report.retired)} files retired ({area.done}), "
            f"{len(report.quarantined)} quarantined, {len(report.changed)} changed, "
            f"{len(report.vanished)} already gone"
        )
        outcome = checks.quarantine_check(ledger)
        context.log_event(
            check_evaluation(outcome, RAW, QUARANTINE_CHECK, AssetCheckSeverity.ERROR)  # type: ignore[arg-type]  # accepted at run time
        )
        context.add_output_metadata(
            {
                "files_retired": len(report.retired),
                "files_quarantined": len(report.quarantined),
                "files_changed": len(report.changed),
                "files_vanished": len(report.vanished),
                "done": area.done,
            }
        )

    @job(
        name="microbatch_job",
        description="Landing files -> lake -> hot store -> correlation -> search, then the "
        "files leave landing and the incidents' notifications are sent.",
        executor_def=in_process_executor,
        tags=RUN_TAGS,
    )
    def microbatch_job() -> None:
        ingest = ingest_landing_files()
        loaded = load_hot_store(ingest)
        indexed = index_incidents(ingest, correlate_incidents(ingest, after_load=loaded))
        retire_landing_files(ingest, after_index=indexed)
        send_alerts(after_index=indexed)

    return microbatch_job


def microbatch_run_request(
    job_name: str,
    token: str,
    files: list[str],
    attempt: int,
    source: str = "local",
    source_format: str = "",
) -> RunRequest:
    """The run of one ledger claim (its token is the run key and the ``soc/claim`` tag)."""
    config = {"files": files, "source": source, "source_format": source_format}
    return RunRequest(
        job_name=job_name,
        run_key=token,
        run_config={"ops": {"ingest_landing_files": {"config": config}}},
        tags={
            **RUN_TAGS,
            "soc/source": source,
            CLAIM_TAG: token,
            "soc/files": str(len(files)),
            "soc/attempt": str(attempt),
        },
    )


def build_microbatch_sensor(
    job_def: JobDefinition, check_job: UnresolvedAssetJob, interval_seconds: int = 60
) -> SensorDefinition:
    @sensor(
        name="microbatch_sensor",
        jobs=[job_def, check_job],
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description="Claims landing files in the ledger and launches micro-batch runs for "
        "them; retries the files of failed runs (halving failed batches) and quarantines "
        "a file that keeps failing alone.",
    )
    def microbatch_sensor(
        context: SensorEvaluationContext, landing: LandingResource, hot: HotStoreResource
    ) -> SensorResult:
        now = datetime.now(UTC)
        ledger = landing.ledger(hot)
        policy = landing.policy()
        refreshed = lifecycle.refresh(
            ledger, landing.area(), policy, now, lambda token: claim_run(context.instance, token)
        )
        for token in refreshed.failed_claims:
            context.log.warning(f"claim {token}: its run failed; files kept for a retry")
        for f in refreshed.quarantined:
            context.log.error(f"quarantined {f.path}: failed alone {f.alone_failures} times")
        batches = lifecycle.claim_next(ledger, policy, now)
        cursor = next_cursor(context.cursor, now)
        requests = [
            microbatch_run_request(job_def.name, b.token, b.paths, b.attempt) for b in batches
        ]
        if refreshed.quarantined:  # show the failing check now, not at the next batch
            key = f"landing-check-{now:%Y%m%dT%H%M%S}"
            requests.append(RunRequest(job_name=check_job.name, run_key=key))
        if not requests:
            summary = lifecycle.summarize(ledger, refreshed.observed, now)
            return SensorResult(skip_reason=SkipReason(skip_reason(summary)), cursor=cursor)
        return SensorResult(run_requests=requests, cursor=cursor)

    return microbatch_sensor
