"""One line for a Dagster run that failed part-way: where it stopped, why, what it had
already stored (from the run's own step events, not guessed) and what to do.

Used by the command line, which executes the jobs in process with ``raise_on_error=False``.
"""

import logging
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dagster import DagsterEvent, Field, InitLoggerContext, JobDefinition
from dagster import logger as dagster_logger
from dagster_shared.error import SerializableErrorInfo

from soc_platform.errors import RunFailedError, SocPlatformError
from soc_platform.flow import keys
from soc_platform.redact import redact_text


def _error_names(root: type[BaseException] = SocPlatformError) -> set[str]:
    names = {root.__name__}
    for sub in root.__subclasses__():
        names |= _error_names(sub)
    return names


def _chain(error: SerializableErrorInfo | None) -> list[SerializableErrorInfo]:
    found: list[SerializableErrorInfo] = []
    while error is not None and len(found) < 20:
        found.append(error)
        error = error.cause or error.context
    return found


def _message_of(error: SerializableErrorInfo) -> str:
    """The exception's own message (``module.Class: message``, without the class)."""
    text = re.sub(rf"^[\w.]*\b{re.escape(error.cls_name or '')}: ", "", error.message.strip())
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def error_line(error: SerializableErrorInfo | None, secrets: Iterable[str] = ()) -> str:
    """The reason a step failed, in one line without credentials: the message of the first
    soc-platform error in the chain (those say what happened and what to do), else the
    class and message of the first exception that is not Dagster's own wrapper."""
    chain = _chain(error)
    ours = _error_names()
    chosen = next((e for e in chain if e.cls_name in ours), None)
    if chosen is not None:
        text = _message_of(chosen)
    else:
        user = [e for e in chain if not (e.cls_name or "").startswith("Dagster")]
        chosen = user[0] if user else (chain[-1] if chain else None)
        if chosen is None:
            return "unknown error (see the run's log in the Dagster UI)"
        message = _message_of(chosen)
        text = f"{chosen.cls_name}: {message}" if message else (chosen.cls_name or "error")
    return redact_text(text.rstrip("."), secrets)


def debug_text(events: Sequence[DagsterEvent]) -> str:
    """Every step failure's full error, tracebacks included (for SOC_DEBUG)."""
    return "\n".join(
        e.step_failure_data.error.to_string()
        for e in events
        if e.is_step_failure and e.step_failure_data.error is not None
    )


def _number(value: Any) -> int:
    value = getattr(value, "value", value)
    return int(value) if isinstance(value, int | float) else 0


@dataclass
class RunSteps:
    """What a run's step events say: which steps succeeded, their output and first
    materialization metadata, and the first failure."""

    run_id: str
    succeeded: set[str] = field(default_factory=set)
    outputs: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    materialized: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # by asset key
    failed_step: str | None = None
    failure: SerializableErrorInfo | None = None

    @classmethod
    def of(cls, run_id: str, events: Iterable[DagsterEvent]) -> "RunSteps":
        steps = cls(run_id)
        for event in events:
            key = event.step_key or ""
            if event.is_step_success:
                steps.succeeded.add(key)
            elif event.is_successful_output:
                steps.outputs.setdefault(key, event.step_output_data.metadata)
            elif event.event_type_value == "ASSET_MATERIALIZATION":
                mat = event.step_materialization_data.materialization
                steps.materialized.setdefault(mat.asset_key.to_user_string(), mat.metadata)
            elif event.is_step_failure and steps.failed_step is None:
                steps.failed_step = key
                steps.failure = event.step_failure_data.error
        return steps

    def reason(self, secrets: Iterable[str] = ()) -> str:
        return error_line(self.failure, secrets)


#: The micro-batch's steps in order, and what each stores.
MICROBATCH_STEPS = (
    ("ingest_landing_files", "the lake"),
    ("load_hot_store", "the hot store"),
    ("correlate_incidents", "the incidents"),
    ("index_incidents", "the search index"),
)


def microbatch_failure(steps: RunSteps, secrets: Iterable[str] = ()) -> str:
    """``run <id> stopped at <step>: <why>. Stored: ... Not stored: ... <what to do>``."""
    stored: list[str] = []
    missing: list[str] = []
    for step, what in MICROBATCH_STEPS:
        if step not in steps.succeeded:
            missing.append(what)
            continue
        if step == "ingest_landing_files":
            meta = steps.outputs.get(step, {})
            events, dead = _number(meta.get("events_parsed")), _number(meta.get("dead_letters"))
            stored.append(
                f"{events:,} events in the lake"
                + (f" ({dead:,} lines as dead letters)" if dead else "")
            )
        elif step == "load_hot_store":
            meta = steps.materialized.get(keys.name(keys.HOT), {})
            rows = _number(meta.get("rows_inserted")) + _number(meta.get("duplicates_skipped"))
            stored.append(f"{rows:,} rows in the hot store")
        elif step == "correlate_incidents":
            meta = steps.outputs.get(step, {})
            stored.append(f"{_number(meta.get('incidents_matched')):,} incidents")
        else:
            stored.append("the search index")
    return (
        f"run {steps.run_id} stopped at {steps.failed_step or 'start'}: {steps.reason(secrets)}. "
        f"Stored: {', '.join(stored) or 'nothing'}. Not stored: {', '.join(missing)}. "
        "The landing files stay: run again, or the sensor retries them after a "
        "backoff (every step is idempotent; soc-platform landing list)."
    )


#: What a backfill rebuilds, in order, by asset key.
BACKFILL_ASSETS = (
    (keys.name(keys.HOT), "the hot rows"),
    (keys.name(keys.SUMMARY), "the aggregates"),
    (keys.name(keys.INCIDENTS), "the incidents"),
    (keys.name(keys.INDEX), "the search index"),
)


def backfill_failure(steps: RunSteps, what: str, secrets: Iterable[str] = ()) -> str:
    """``<what> (run <id>) stopped at <step>: <why>. Rebuilt: ... Not rebuilt: ...``."""
    done: list[str] = []
    missing: list[str] = []
    for key, name in BACKFILL_ASSETS:
        meta = steps.materialized.get(key)
        if meta is None:
            missing.append(name)
        elif key == keys.name(keys.HOT):
            done.append(f"{_number(meta.get('rows')):,} hot rows")
        elif key == keys.name(keys.INCIDENTS):
            done.append(f"{_number(meta.get('incidents')):,} incidents")
        else:
            done.append(name)
    tail = (
        f" Rebuilt: {', '.join(done) or 'nothing'}. Not rebuilt: {', '.join(missing)}."
        if missing
        else ""
    )
    return (
        f"{what} (run {steps.run_id}) stopped at {steps.failed_step or 'start'}: "
        f"{steps.reason(secrets)}.{tail} Run it again (it is idempotent)."
    )


def failed_run(result: Any, secrets: Iterable[str], kind: str, what: str = "") -> RunFailedError:
    """The error for a failed in-process run (``ExecuteInProcessResult``) of ``kind``
    ``microbatch``, ``backfill`` (``what`` names it) or any other job (``what``)."""
    secrets = list(secrets)
    steps = RunSteps.of(result.run_id, result.all_events)
    if kind == "microbatch":
        message = microbatch_failure(steps, secrets)
    elif kind == "backfill":
        message = backfill_failure(steps, what, secrets)
    else:
        message = (
            f"{what} (run {steps.run_id}) stopped at {steps.failed_step or 'start'}: "
            f"{steps.reason(secrets)}"
        )
    return RunFailedError(message, debug_text(result.all_events))


#: Dagster's own log lines about a failure the one-line report already covers.
_ENGINE_MESSAGES = ("Dependencies for step ",)


class _TerminalHandler(logging.Handler):
    """The run's own log messages (warnings: unreadable files, rules not running...) as
    ``soc-platform: warning: <step>: <message>``. Dagster's event records (step failures
    with their tracebacks, run failure) are left out: the command reports a failed run in
    one line itself."""

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        if meta.get("dagster_event") is not None:
            return
        step = meta.get("step_key") or meta.get("op_name") or ""
        text = str(meta.get("orig_message") or record.getMessage())
        if text.startswith(_ENGINE_MESSAGES):
            return
        sys.stderr.write(
            f"soc-platform: {record.levelname.lower()}: {f'{step}: ' if step else ''}"
            f"{redact_text(text)}\n"
        )


@dagster_logger(config_schema={"log_level": Field(str, default_value="WARNING")})
def terminal_logger(init_context: InitLoggerContext) -> logging.Logger:
    log = logging.Logger("soc_platform.run", level=init_context.logger_config["log_level"])
    log.addHandler(_TerminalHandler())
    return log


def for_terminal(job: JobDefinition, verbose: bool) -> JobDefinition:
    """``job`` logging to the terminal as the command line does: Dagster's console log when
    ``verbose``, else one line per warning and nothing of Dagster's own events."""
    return job if verbose else job.with_logger_defs({"console": terminal_logger})
