"""The micro-batch: one run takes new landing files through lake, hot store, correlation
and search, reporting a materialization for every event-day partition it touched."""

from collections.abc import Iterator
from datetime import date
from typing import Any

from dagster import (
    AssetCheckEvaluation,
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
    SkipReason,
    in_process_executor,
    job,
    op,
    sensor,
)

from assets.detection import RULES_CHECK, rule_set_check
from assets.hot import AGGREGATE_KEYS, COUNTS_CHECK, HOT
from soc_platform import engine, pipeline
from soc_platform.planning import plan_runs
from soc_platform.resources import (
    DetectionResource,
    HotStoreResource,
    LakeResource,
    LandingResource,
    SearchResource,
)

RAW = AssetKey(["lake", "raw_waf_events"])
DEAD = AssetKey(["lake", "dead_letter"])
INCIDENTS = AssetKey(["detection", "incidents"])
INDEX = AssetKey(["search", "incident_index"])
# Every step is idempotent, so a failed run is retried whole (the in-memory hand-over
# between steps cannot resume from the failed step).
RUN_TAGS = {"soc/pipeline": "microbatch", "dagster/retry_strategy": "ALL_STEPS"}


class MicrobatchConfig(Config):
    files: list[str]
    source_format: str = "waf_json"


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

    @op(out=Out(pipeline.IngestReport, io_manager_key="mem_io"))
    def ingest_landing_files(
        context: OpExecutionContext,
        config: MicrobatchConfig,
        lake: LakeResource,
        landing: LandingResource,
    ) -> Iterator[AssetMaterialization | Output[pipeline.IngestReport]]:
        report = pipeline.ingest_files(
            lake.lake(),
            config.files,
            config.source_format,
            max_line_bytes=landing.max_line_bytes,
        )
        meta: dict[str, Any] = {
            "files": report.files,
            "lines_read": report.lines_read,
            "events_parsed": report.parsed,
            "events_appended": report.appended,
            "duplicates_skipped": report.duplicates,
            "dead_letters": report.dead_letters,
            "files_failed": len(report.files_failed),
            **{f"events_altered/{k}": v for k, v in report.events_altered.items()},
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

    @op(ins={"ingest": In(pipeline.IngestReport, input_manager_key="mem_io")}, out=Out(Nothing))
    def load_hot_store(
        context: OpExecutionContext,
        ingest: pipeline.IngestReport,
        hot: HotStoreResource,
        lake: LakeResource,
    ) -> Iterator[AssetMaterialization]:
        store = hot.store()
        report = pipeline.load_hot(store, ingest.events)
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
        outcome = pipeline.check_lake_hot_counts(store, lake.lake(), report.days)
        context.log_event(
            AssetCheckEvaluation(  # type: ignore[arg-type]  # accepted at run time
                asset_key=HOT,
                check_name=COUNTS_CHECK,
                passed=outcome.passed,
                description=outcome.description,
                metadata={
                    k: MetadataValue.json(v) if isinstance(v, dict) else v
                    for k, v in outcome.metadata.items()
                },
                severity=AssetCheckSeverity.ERROR,
            )
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
            "ingest": In(pipeline.IngestReport, input_manager_key="mem_io"),
            "after_load": In(Nothing),
        },
        out=Out(engine.CorrelationReport, io_manager_key="mem_io"),
    )
    def correlate_incidents(
        context: OpExecutionContext,
        ingest: pipeline.IngestReport,
        hot: HotStoreResource,
        detection: DetectionResource,
    ) -> Iterator[AssetMaterialization | Output[engine.CorrelationReport]]:
        loaded = detection.load()
        for problem in loaded.rules.problems:
            context.log.warning(f"rule not running: {problem}")
        report = engine.correlate(hot.store(), ingest.events["event_time"], loaded)
        for name, why in report.rule_errors.items():
            context.log.error(f"rule {name} failed in PostgreSQL, skipped: {why}")
        # the rule set's check, every batch: a broken rule shows within a minute
        check = rule_set_check(loaded.rules, report.rule_errors)
        context.log_event(
            AssetCheckEvaluation(  # type: ignore[arg-type]  # accepted at run time
                asset_key=INCIDENTS,
                check_name=RULES_CHECK,
                passed=check.passed,
                description=check.description,
                metadata=check.metadata,
                severity=check.severity,
            )
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
            "ingest": In(pipeline.IngestReport, input_manager_key="mem_io"),
            "correlation": In(engine.CorrelationReport, input_manager_key="mem_io"),
        },
        out=Out(Nothing),
    )
    def index_incidents(
        context: OpExecutionContext,
        ingest: pipeline.IngestReport,
        correlation: engine.CorrelationReport,
        hot: HotStoreResource,
        search: SearchResource,
    ) -> Iterator[AssetMaterialization]:
        backend = search.backend(hot.store())
        count = pipeline.index_incidents(backend, correlation.incidents, correlation.superseded)
        context.log.info(f"indexed {count} incidents in the {backend.name} backend")
        yield from _partition_events(
            context, partitions, INDEX, ingest.days, {"indexed": count, "backend": backend.name}
        )

    @job(
        name="microbatch_job",
        description="New landing files -> lake -> hot store -> correlation -> search.",
        executor_def=in_process_executor,
        tags=RUN_TAGS,
    )
    def microbatch_job() -> None:
        ingest = ingest_landing_files()
        loaded = load_hot_store(ingest)
        index_incidents(ingest, correlate_incidents(ingest, after_load=loaded))

    return microbatch_job


def build_microbatch_sensor(job_def: JobDefinition) -> SensorDefinition:
    @sensor(
        name="microbatch_sensor",
        job=job_def,
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.RUNNING,
        description="Launches one micro-batch run when new files are in the landing directory.",
    )
    def microbatch_sensor(
        context: SensorEvaluationContext, landing: LandingResource
    ) -> RunRequest | SkipReason:
        plan = plan_runs(context.cursor, landing.files())
        context.update_cursor(plan.cursor)
        if plan.run is None:
            return SkipReason(plan.skip_reason)
        if plan.pending_after:
            context.log.info(f"{plan.pending_after} more files wait for the next tick")
        return RunRequest(
            run_key=plan.run.run_key,
            run_config={"ops": {"ingest_landing_files": {"config": {"files": plan.run.files}}}},
            tags={**RUN_TAGS, "soc/files": str(len(plan.run.files))},
        )

    return microbatch_sensor
