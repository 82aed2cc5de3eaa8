"""The Dagster instance: the embedded DAGSTER_HOME, the run launcher whose health check lets
Dagster's run monitoring fail dead runs, and the run lookups the landing ledger needs.

The embedded defaults keep DAGSTER_HOME under the data directory (SQLite storage);
production points DAGSTER_HOME at a folder holding the repository's ``dagster.yaml``
(PostgreSQL storage from environment variables) instead. Both use :class:`SocRunLauncher`
with run monitoring.

Why a launcher of our own: Dagster's run monitoring fails a run whose worker died only
through the launcher's ``check_run_worker_health``, which the ``DefaultRunLauncher`` does
not offer (``supports_check_run_worker_health`` is False). Its code server fails a run
whose worker process dies while the code server lives; but a run killed together with its
code server (a crash, a container restart) or a ``soc-platform run`` killed with ``kill -9``
stayed STARTED for ever, holding the one micro-batch slot of the run queue, so every later
sensor run stayed QUEUED. :class:`SocRunLauncher` is the ``DefaultRunLauncher`` plus that
health check: it knows each run's worker process (host, pid, start time) and reports it
failed once the process is gone.
"""

import json
import os
from pathlib import Path

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, DefaultRunLauncher, RunsFilter
from dagster._core.events import DagsterEventType
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG

from soc_platform.settings import Settings
from soc_platform.sources.planning import RunOutcome
from soc_platform.sources.processes import START_TOLERANCE_S, host_name, is_alive, process_start

#: Run tags naming the process that executes a run (set by ``soc-platform run`` for its
#: in-process runs; the launcher sets the host of the runs it launches on this host).
HOST_TAG = "soc/host"
PID_TAG = "soc/pid"
PID_STARTED_TAG = "soc/pid_started"
#: The landing-ledger claim a micro-batch run works for.
CLAIM_TAG = "soc/claim"

EMBEDDED_HEADER = "# Written by soc-platform for the embedded defaults"
EMBEDDED_INSTANCE_YAML = f"""\
{EMBEDDED_HEADER}: SQLite storage in this folder.
# soc-platform rewrites this file when its defaults change; to keep your own settings,
# delete this header line (the file is then left alone).
# One micro-batch at a time (the lake's append is check-then-write), others queue.
run_queue:
  max_concurrent_runs: 4
  tag_concurrency_limits:
    - key: soc/pipeline
      value: microbatch
      limit: 1
# A failed run is retried (every step is idempotent); micro-batch runs opt out
# (tag dagster/max_retries=0): the sensor retries their files, halving failed batches.
run_retries:
  enabled: true
  max_retries: 2
# A run whose worker process died (kill -9, crash) is marked failed, so the queue moves.
run_launcher:
  module: soc_platform.flow.instance
  class: SocRunLauncher
run_monitoring:
  enabled: true
  poll_interval_seconds: 10
  start_timeout_seconds: 180
  cancel_timeout_seconds: 180
  max_resume_run_attempts: 0
telemetry:
  enabled: false
"""


def prepare_dagster_home(settings: Settings) -> Path:
    """Make sure DAGSTER_HOME exists with a dagster.yaml, and is exported; return it.

    A dagster.yaml written by an earlier soc-platform (it starts with our header) is
    brought up to date; a file without the header belongs to the user and is kept.
    """
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    current = config.read_text() if config.exists() else None
    if current is None or (
        current.startswith(EMBEDDED_HEADER) and current != EMBEDDED_INSTANCE_YAML
    ):
        tmp = config.with_name(".dagster.yaml.tmp")
        tmp.write_text(EMBEDDED_INSTANCE_YAML)
        tmp.replace(config)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


# -- run workers ----------------------------------------------------------------------------


def _local(host: str | None) -> bool:
    return host in ("localhost", "127.0.0.1", "::1", host_name())


def worker_alive(instance: DagsterInstance, run: DagsterRun) -> bool | None:
    """Whether the process executing ``run`` is alive: None when this host cannot tell
    (another host, or no worker recorded yet)."""
    tags = run.tags
    if tags.get(HOST_TAG) != host_name():
        return None
    if PID_TAG in tags:  # an in-process run (soc-platform run): the tags say it all
        started = tags.get(PID_STARTED_TAG)
        return is_alive(int(tags[PID_TAG]), float(started) if started else None)
    # a launched run: its worker reports "Started process for run (pid: N)"
    for record in instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT):
        event = record.dagster_event
        data = event.engine_event_data if event else None
        pid_value = data.metadata.get("pid") if data else None
        if pid_value is None:
            continue
        start = process_start(int(str(pid_value.value)))
        if start is None:
            return False
        # a process started after the worker reported in is another one (a reused pid)
        return start != start or start <= record.timestamp + START_TOLERANCE_S
    return None


class SocRunLauncher(DefaultRunLauncher):
    """The default launcher (runs in a subprocess of the code server), plus a health
    check of the run worker for Dagster's run monitoring."""

    def launch_run(self, context: LaunchRunContext) -> None:
        super().launch_run(context)
        run = self._instance.get_run_by_id(context.dagster_run.run_id)
        info = json.loads(run.tags.get(GRPC_INFO_TAG, "{}")) if run else {}
        # the worker runs on the code server's host: record it when that is this host
        if run and (info.get("socket") or _local(info.get("host"))):
            self._instance.add_run_tags(run.run_id, {HOST_TAG: host_name()})

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        alive = worker_alive(self._instance, run)
        if alive is False:
            return CheckRunHealthResult(
                WorkerStatus.FAILED,
                f"the run worker process on {run.tags.get(HOST_TAG)} is gone "
                "(killed, or crashed with its code server)",
            )
        # alive, or not checkable from here: let the run be (max_runtime still applies)
        return CheckRunHealthResult(WorkerStatus.RUNNING)


def reap_dead_runs(instance: DagsterInstance) -> list[str]:
    """Fail started runs whose worker process on this host is gone; return their ids.

    What run monitoring does in the daemon; ``soc-platform run`` calls it too, so a killed
    run does not hold the micro-batch slot when no daemon is running.
    """
    reaped = []
    for run in instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED])):
        if worker_alive(instance, run) is not False:
            continue
        fresh = instance.get_run_by_id(run.run_id)
        if fresh is None or fresh.is_finished:
            continue  # it finished between the two reads
        instance.report_run_failed(
            fresh, f"the run worker process on {run.tags.get(HOST_TAG)} is gone (killed?)"
        )
        reaped.append(run.run_id)
    return reaped


# -- claims and their runs ---------------------------------------------------------------------

_OUTCOMES = {
    DagsterRunStatus.SUCCESS: RunOutcome.SUCCEEDED,
    DagsterRunStatus.FAILURE: RunOutcome.FAILED,
    DagsterRunStatus.CANCELED: RunOutcome.CANCELED,
}


def claim_run(instance: DagsterInstance, token: str) -> tuple[RunOutcome, str] | None:
    """The outcome of the newest run working for a ledger claim, with its error (None:
    no run carries the claim)."""
    runs = instance.get_runs(RunsFilter(tags={CLAIM_TAG: token}), limit=1)
    if not runs:
        return None
    run = runs[0]
    outcome = _OUTCOMES.get(run.status, RunOutcome.ACTIVE)
    if outcome is not RunOutcome.FAILED and outcome is not RunOutcome.CANCELED:
        return outcome, ""
    return outcome, run_error(instance, run)


def run_error(instance: DagsterInstance, run: DagsterRun) -> str:
    """One line saying why a run failed: the root cause of its step failure (the user
    code's exception, not Dagster's wrapper), else its run failure message."""
    for kind in (DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE):
        for record in instance.all_logs(run.run_id, of_type=kind):
            event = record.dagster_event
            if event is None:
                continue
            message = event.message or ""
            if kind is DagsterEventType.STEP_FAILURE:
                error = event.step_failure_data.error
                while error is not None and error.cause is not None:
                    error = error.cause
                if error is not None:
                    message = error.message
            lines = [line for line in message.strip().splitlines() if line.strip()]
            if lines:
                return f"run {run.run_id}: {lines[0].strip()}"
    return f"run {run.run_id} {run.status.value.lower()}"
