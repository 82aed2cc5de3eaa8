"""Alerting in Dagster (README "Alerting"): the ``send_alerts`` op (the micro-batch's step
after indexing, and ``alerts_job``), and ``alerts_sensor``, which launches ``alerts_job``
when notifications are left due: the micro-batch's step failed, or a delivery's backoff
ran out. Only built when alerting is configured. Secrets never reach Dagster: the op reads
them from the environment (settings) in its own process, and errors are redacted."""

from datetime import UTC, datetime

from dagster import (
    AssetCheckSeverity,
    DefaultSensorStatus,
    In,
    JobDefinition,
    Nothing,
    OpExecutionContext,
    Out,
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

from soc_platform.flow import checks, steps
from soc_platform.flow.keys import ALERTS_CHECK, INDEX, check_evaluation
from soc_platform.flow.resources import HotStoreResource

#: the sensor launches a drain when a due notification has waited this long
STALE_SECONDS = 30


def _send(context: OpExecutionContext, hot: HotStoreResource) -> None:
    store = hot.store()
    report = steps.send_alerts(store)
    if report is None:
        context.log.info("alerting is not configured (SOC_ALERT_WEBHOOK_URL, SOC_ALERT_ROUTES)")
        return
    context.log.info(
        f"alerts: {report.sent} sent in {report.messages} message(s), {report.failed} failed "
        f"attempt(s), {report.dead} dead, {report.deferred} rate-limited"
    )
    for line in report.errors[:10]:  # redacted by the sender
        context.log.warning(f"alert delivery failed: {line}")
    outcome = checks.alerts_check(store)
    context.log_event(
        check_evaluation(outcome, INDEX, ALERTS_CHECK, AssetCheckSeverity.ERROR)  # type: ignore[arg-type]  # accepted at run time
    )
    context.add_output_metadata(report.as_dict() | {"errors": len(report.errors)})


@op(ins={"after_index": In(Nothing)}, out=Out(Nothing))
def send_alerts(context: OpExecutionContext, hot: HotStoreResource) -> None:
    """Deliver the notifications the batch's incidents wrote to the outbox. The batch is
    stored whatever happens here: a failure is logged (redacted) and the notifications stay
    in the outbox for alerts_sensor, rather than failing the run (and retrying its files)."""
    try:
        _send(context, hot)
    except Exception as exc:  # the outbox keeps them: alerts_sensor drains it
        from soc_platform.redact import redact_text
        from soc_platform.settings import load_settings

        why = redact_text(f"{type(exc).__name__}: {exc}", load_settings().secrets)
        context.log.error(f"alerts not sent now, left in the outbox for alerts_sensor: {why}")


@op(name="drain_alert_outbox", out=Out(Nothing))
def drain_alert_outbox(context: OpExecutionContext, hot: HotStoreResource) -> None:
    """Deliver every due notification of the outbox."""
    _send(context, hot)


@job(
    name="alerts_job",
    description="Deliver the alert outbox's due notifications (retries, a failed step).",
    executor_def=in_process_executor,
)
def alerts_job() -> None:
    drain_alert_outbox()


def build_alerts_sensor(job_def: JobDefinition, interval_seconds: int = 30) -> SensorDefinition:
    @sensor(
        name="alerts_sensor",
        job=job_def,
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description="Launches alerts_job when notifications are due and were not delivered "
        "by the micro-batch (its send step failed, or a retry's backoff ran out).",
    )
    def alerts_sensor(context: SensorEvaluationContext, hot: HotStoreResource) -> SensorResult:
        from soc_platform.alerts import outbox

        with hot.store().connect() as conn:
            waiting = outbox.stale_due(conn, STALE_SECONDS)
        if not waiting:
            return SensorResult(skip_reason=SkipReason("no notification waiting"))
        now = datetime.now(UTC)
        key = f"alerts-{now:%Y%m%dT%H%M%S}"
        context.log.info(f"{waiting} notification(s) due and waiting: launching alerts_job")
        return SensorResult(run_requests=[RunRequest(run_key=key)])

    return alerts_sensor
