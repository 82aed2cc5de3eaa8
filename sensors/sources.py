"""The S3/MinIO and NATS JetStream sources: a sensor each over the same micro-batch job
(``sensors.microbatch``), and the source-specific ends of its first and last steps
(reading the batch; retiring objects or acknowledging messages after the commit).

Each sensor runs by default only when its source is configured (``SOC_S3_BUCKET``,
``SOC_NATS_URL``); the landing-directory sensor stays the embedded default.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

import pyarrow as pa
from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    JobDefinition,
    OpExecutionContext,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition as UnresolvedAssetJob,
)

from sensors.microbatch import RUN_TAGS, microbatch_run_request
from soc_platform import faults
from soc_platform.errors import ConfigurationError
from soc_platform.flow import steps
from soc_platform.flow.instance import claim_run
from soc_platform.flow.resources import HotStoreResource, LakeResource, LandingResource
from soc_platform.flow.source_resources import NatsSourceResource, S3SourceResource
from soc_platform.sources import lifecycle
from soc_platform.sources import nats as nats_source
from soc_platform.sources.planning import next_cursor, skip_reason

SOURCES = ("local", "s3", "nats")
_UNFINISHED = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


def source_area(source: str, landing: LandingResource, s3: S3SourceResource) -> lifecycle.Area:
    """The landing area of a file-like source (local directory or S3 prefix)."""
    if source == "local":
        return landing.area()
    if source == "s3":
        return s3.area()
    raise ConfigurationError(f"source {source!r} has no landing area (one of local, s3)")


def read_batch(
    source: str,
    files: list[str],
    source_format: str,
    lake: LakeResource,
    landing: LandingResource,
    s3: S3SourceResource,
    nats: NatsSourceResource,
    *,
    enrich: Callable[[pa.Table], pa.Table] | None = None,
) -> steps.IngestReport:
    """The micro-batch's first step for any source: read, parse, enrich (``enrich``),
    append to the lake."""
    limit = landing.max_line_bytes
    if source == "local":
        fmt = source_format or landing.source_format
        report = steps.ingest_files(lake.lake(), files, fmt, max_line_bytes=limit, enrich=enrich)
    elif source == "s3":
        area = s3.area()
        report = steps.ingest_files(
            lake.lake(),
            files,
            source_format or s3.source_format,
            max_line_bytes=limit,
            enrich=enrich,
            reader=partial(area.blocks, max_line_bytes=limit),
            source_name=area.source_file,
        )
    elif source == "nats":
        config = nats.source()
        fetched = nats_source.fetch(config, limit)
        blocks = [fetched.block] if fetched.block.lines else []
        report = steps.ingest_files(
            lake.lake(),
            [config.source_file],
            source_format or nats.source_format,
            max_line_bytes=limit,
            enrich=enrich,
            reader=lambda _: blocks,
        )
        report.files = 0
        report.receipts = fetched.receipts
        report.source_lag = {
            **fetched.lag.as_metadata(),
            "nats/messages": len(fetched.receipts),
            "nats/empty_messages": fetched.empty,
        }
    else:
        raise ConfigurationError(f"unknown source {source!r}: one of {', '.join(SOURCES)}")
    report.source = source
    return report


def confirm_messages(
    context: OpExecutionContext, ingest: steps.IngestReport, nats: NatsSourceResource
) -> None:
    """NATS: the batch is committed; acknowledge its messages (dead letters terminated)."""
    dead = ingest.dead_letter_offsets
    lag = nats_source.confirm(nats.source(), ingest.receipts, dead)
    faults.check("retire_file")  # messages acknowledged, the run not yet finished
    terminated = sum(1 for seq, _ in ingest.receipts if seq in dead)
    context.log.info(
        f"nats: {len(ingest.receipts) - terminated} messages acknowledged, {terminated} "
        f"dead letters terminated; consumer lag {lag.num_pending} pending, "
        f"{lag.num_ack_pending} awaiting acknowledgement"
    )
    context.add_output_metadata(
        {
            "messages_acknowledged": len(ingest.receipts) - terminated,
            "messages_terminated": terminated,
            **lag.as_metadata(),
        }
    )


def build_s3_sensor(
    job_def: JobDefinition,
    check_job: UnresolvedAssetJob,
    interval_seconds: int = 60,
    running: bool = False,
) -> SensorDefinition:
    """Like ``microbatch_sensor``, over the S3 prefix: list, claim in the ledger, launch."""

    @sensor(
        name="s3_sensor",
        jobs=[job_def, check_job],
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING if running else DefaultSensorStatus.STOPPED,
        description="Lists the S3/MinIO prefix (SOC_S3_BUCKET, SOC_S3_PREFIX), claims new "
        "objects in the landing ledger and launches micro-batch runs for them; retries and "
        "quarantines like the landing sensor.",
    )
    def s3_sensor(
        context: SensorEvaluationContext,
        s3: S3SourceResource,
        hot: HotStoreResource,
        landing: LandingResource,
    ) -> SensorResult:
        if not s3.configured:
            return SensorResult(skip_reason=SkipReason("the S3 source is not configured"))
        now = datetime.now(UTC)
        area = s3.area()
        ledger = area.ledger(hot.store())
        policy = landing.policy()
        refreshed = lifecycle.refresh(
            ledger, area, policy, now, lambda token: claim_run(context.instance, token)
        )
        for token in refreshed.failed_claims:
            context.log.warning(f"claim {token}: its run failed; objects kept for a retry")
        for f in refreshed.quarantined:
            context.log.error(f"quarantined {f.path}: failed alone {f.alone_failures} times")
        batches = lifecycle.claim_next(ledger, policy, now, prefix="s3")
        cursor = next_cursor(context.cursor, now)
        requests = [
            microbatch_run_request(
                job_def.name, b.token, b.paths, b.attempt, "s3", s3.source_format
            )
            for b in batches
        ]
        if refreshed.quarantined:
            key = f"landing-check-s3-{now:%Y%m%dT%H%M%S}"
            requests.append(RunRequest(job_name=check_job.name, run_key=key))
        if not requests:
            summary = lifecycle.summarize(ledger, refreshed.observed, now)
            reason = f"{area.source}: {skip_reason(summary)}"
            return SensorResult(skip_reason=SkipReason(reason), cursor=cursor)
        return SensorResult(run_requests=requests, cursor=cursor)

    return s3_sensor


def nats_run_request(job_name: str, now: datetime, source_format: str) -> RunRequest:
    config = {"files": [], "source": "nats", "source_format": source_format}
    return RunRequest(
        job_name=job_name,
        run_key=f"nats-{now:%Y%m%dT%H%M%S.%f}",
        run_config={"ops": {"ingest_landing_files": {"config": config}}},
        tags={**RUN_TAGS, "soc/source": "nats"},
    )


def build_nats_sensor(
    job_def: JobDefinition, interval_seconds: int = 60, running: bool = False
) -> SensorDefinition:
    """Reads the consumer's backlog (never fetches: fetched messages would wait for
    ``ack_wait``) and launches one micro-batch run when messages are pending and no NATS
    run is unfinished."""

    @sensor(
        name="nats_sensor",
        jobs=[job_def],
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING if running else DefaultSensorStatus.STOPPED,
        description="Watches the NATS JetStream durable consumer (SOC_NATS_URL) and launches "
        "a micro-batch run while messages are pending; the run acknowledges them after the "
        "commit.",
    )
    def nats_sensor(context: SensorEvaluationContext, nats: NatsSourceResource) -> SensorResult:
        if not nats.configured:
            return SensorResult(skip_reason=SkipReason("the NATS source is not configured"))
        now = datetime.now(UTC)
        cursor = next_cursor(context.cursor, now)
        lag = nats_source.lag(nats.source())
        backlog = (
            f"consumer {nats.consumer}: {lag.num_pending} pending, "
            f"{lag.num_ack_pending} awaiting acknowledgement"
        )
        # after a crash, unacknowledged messages come back (ack_wait) to the next fetch
        if lag.num_pending == 0 and lag.num_ack_pending == 0:
            return SensorResult(
                skip_reason=SkipReason(f"nothing to fetch: {backlog}"), cursor=cursor
            )
        unfinished = context.instance.get_runs(
            filters=RunsFilter(tags={"soc/source": "nats"}, statuses=_UNFINISHED), limit=1
        )
        if unfinished:
            reason = f"a NATS run is still going ({unfinished[0].run_id}): {backlog}"
            return SensorResult(skip_reason=SkipReason(reason), cursor=cursor)
        context.log.info(backlog)
        request = nats_run_request(job_def.name, now, nats.source_format)
        return SensorResult(run_requests=[request], cursor=cursor)

    return nats_sensor


def source_sensors(
    job_def: JobDefinition,
    check_job: UnresolvedAssetJob,
    interval_seconds: int,
    s3_running: bool,
    nats_running: bool,
) -> list[SensorDefinition]:
    return [
        build_s3_sensor(job_def, check_job, interval_seconds, s3_running),
        build_nats_sensor(job_def, interval_seconds, nats_running),
    ]
