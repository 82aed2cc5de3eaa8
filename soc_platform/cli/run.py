"""``generate``, ``run`` and ``backfill``: traffic into the landing directory, the micro-batch
runs, and day ranges rebuilt from the lake."""

import argparse
import gzip
import json
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from soc_platform.cli.common import _hot, _one_line, _print, preflight
from soc_platform.errors import (
    ConfigurationError,
    HotStoreError,
    RunFailedError,
    SocPlatformError,
)
from soc_platform.redact import redact_text
from soc_platform.settings import Settings


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    from soc_platform.sources.synth import generate

    if args.minutes < 5 or args.events < 1:
        raise ConfigurationError("generate needs --minutes of at least 5 and --events >= 1")
    out = Path(args.out).expanduser().resolve()
    events, campaigns = generate(events=args.events, minutes=args.minutes, seed=args.seed)
    out.mkdir(parents=True, exist_ok=True)
    # one file per 15 minutes of event time, written under a hidden name, then renamed
    chunks: dict[str, list[dict[str, Any]]] = {}
    for ev in events:
        stamp = datetime.fromisoformat(ev["timestamp"].replace("Z", "+00:00"))
        bucket = stamp - timedelta(
            minutes=stamp.minute % 15, seconds=stamp.second, microseconds=stamp.microsecond
        )
        chunks.setdefault(f"{bucket:%Y%m%dT%H%M}", []).append(ev)
    written = []
    for chunk_name, rows in sorted(chunks.items()):
        final = out / f"waf-s{args.seed}-{chunk_name}.jsonl.gz"
        tmp = out / f".{final.name}.tmp"
        with gzip.open(tmp, "wt", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, separators=(",", ":")) + "\n")
        tmp.replace(final)
        written.append(final)
    truth = Path(args.truth) if args.truth else out / f"_truth-s{args.seed}.json"
    truth.write_text(json.dumps([c.to_dict() for c in campaigns], indent=2) + "\n")
    _print(f"wrote {len(events)} events in {len(written)} files to {out}")
    _print(f"ground truth ({len(campaigns)} injected campaigns): {truth}")
    return 0


def run_microbatch(
    settings: Settings,
    files: Sequence[str],
    verbose: bool = False,
    claim: str | None = None,
    check_stores: bool = True,
    source: str = "local",
) -> dict[str, Any]:
    """Execute the micro-batch job in process on ``files`` (the landing-ledger claim
    ``claim`` holds them); return its reports. ``check_stores``: reach the stores first
    (the caller may have done it already). ``source``: local, s3 (``files`` are object
    keys) or nats (the run fetches its messages)."""
    from dagster import DagsterInstance

    from soc_platform.definitions import build_definitions
    from soc_platform.flow.instance import (
        CLAIM_TAG,
        HOST_TAG,
        PID_STARTED_TAG,
        PID_TAG,
        prepare_dagster_home,
    )
    from soc_platform.sources.lifecycle import this_process

    if check_stores:
        preflight(settings)
    prepare_dagster_home(settings)
    from soc_platform.flow.runreport import for_terminal

    job = for_terminal(build_definitions(settings).resolve_job_def("microbatch_job"), verbose)
    level = "DEBUG" if verbose else "WARNING"
    me = this_process()
    # who executes the run: run monitoring fails it if this process is killed
    tags = {
        "soc/trigger": "cli",
        "soc/source": source,
        HOST_TAG: str(me.host),
        PID_TAG: str(me.pid),
    }
    if me.started is not None:
        tags[PID_STARTED_TAG] = f"{me.started:.2f}"
    if claim:
        tags[CLAIM_TAG] = claim
    config = _ingest_config(settings, files, source)
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(
            run_config={
                "ops": {"ingest_landing_files": {"config": config}},
                "loggers": {"console": {"config": {"log_level": level}}},
            },
            instance=instance,
            tags=tags,
            raise_on_error=False,
        )
    if not result.success:
        from soc_platform.flow.runreport import failed_run

        raise failed_run(result, settings.secrets, "microbatch")
    from soc_platform.flow.runreport import RunSteps

    index = RunSteps.of(result.run_id, result.all_events).outputs.get("index_incidents", {})
    return {
        "run_id": result.run_id,
        "ingest": result.output_for_node("ingest_landing_files"),
        "incidents": result.output_for_node("correlate_incidents").incidents,
        # what waits for the search backend after the run, and why (empty: nothing)
        "search_pending": int(getattr(index.get("pending"), "value", 0) or 0),
        "search_pending_line": str(getattr(index.get("pending_reason"), "value", "") or ""),
    }


def _ingest_config(settings: Settings, files: Sequence[str], source: str) -> dict[str, Any]:
    formats = {"s3": settings.s3_format, "nats": settings.nats_format}
    config: dict[str, Any] = {"files": list(files), "source": source}
    if source in formats:
        config["source_format"] = formats[source]
    return config


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Process the landing directory now: the files no sensor run holds, in runs of
    bounded size, claimed in the landing ledger like the sensor's runs."""
    from dagster import DagsterInstance

    from soc_platform import factory
    from soc_platform.flow.instance import claim_run, prepare_dagster_home, reap_dead_runs
    from soc_platform.sources import lifecycle
    from soc_platform.sources.planning import skip_reason

    if args.source == "nats":
        from soc_platform.cli.sources import run_nats

        return run_nats(args, settings, run_microbatch, _run_summary, _print_run, _combine)
    area: lifecycle.Area
    if args.source == "s3":
        from soc_platform.sources.s3 import area_from_settings

        area = area_from_settings(settings)
        where = area.source
    else:
        area = factory.landing_area(settings)
        where = str(settings.landing_dir)
    if not area.list_files():
        hint = (
            "upload objects there"
            if args.source == "s3"
            else f"drop files there, or: soc-platform generate --out {settings.landing_dir}"
        )
        _print(f"nothing to do: no .jsonl/.jsonl.gz files in {where} ({hint})")
        return 0
    # stores out of reach: one line and exit status 2 before any file is claimed
    preflight(settings)
    ledger = area.ledger(_hot(settings))
    policy = factory.retry_policy(settings)
    prepare_dagster_home(settings)
    with DagsterInstance.get() as instance:
        reap_dead_runs(instance)  # a killed run must not hold the micro-batch slot
        refreshed = lifecycle.refresh(
            ledger, area, policy, datetime.now(UTC), lambda t: claim_run(instance, t)
        )
    for f in refreshed.quarantined:
        sys.stderr.write(f"soc-platform: quarantined {f.path}: {f.last_error}\n")
    holder = lifecycle.this_process()
    summaries: list[dict[str, Any]] = []
    failures: list[Exception] = []
    tried: set[str] = set()  # files of this command's failed runs wait for the backoff
    while True:  # runs of bounded size, as the sensor launches them
        # files of earlier failed runs are retried now (the backoff paces the sensor), but
        # once per command
        try:
            batches = lifecycle.claim_next(
                ledger,
                policy,
                datetime.now(UTC),
                holder,
                prefix="cli" if args.source == "local" else f"cli-{args.source}",
                max_runs=1,
                exclude=tried,
                retry_now=True,
            )
        except SocPlatformError:
            if not failures:
                raise
            break  # the hot store went down with the failed run: report that run
        if not batches:
            break
        batch = batches[0]
        try:
            out = run_microbatch(
                settings,
                batch.paths,
                args.verbose,
                claim=batch.token,
                check_stores=False,
                source=args.source,
            )
        except Exception as exc:
            tried.update(batch.paths)
            failures.append(exc)
            try:
                lifecycle.fail_claim(ledger, batch.token, _one_line(exc), datetime.now(UTC), policy)
            except Exception as down:
                # the hot store (which keeps the ledger) went down with the run: the claim
                # stays with this process, and the next run, seeing it gone, retries it
                reason = (
                    "its PostgreSQL is unreachable"
                    if isinstance(down, HotStoreError)
                    else _one_line(down)
                )
                note = (
                    f" The landing ledger could not record the failure ({reason}): the next "
                    "run retries these files all the same."
                )
                details = getattr(exc, "details", "")
                failures[-1] = RunFailedError(_one_line(exc) + note, details)
                failures[-1].__cause__ = exc
                break
            continue
        summaries.append(_run_summary(out))
        del out
        _release_memory()
        if not args.json:
            _print_run(summaries[-1])
    if args.json:
        _print(json.dumps(_combine(summaries), indent=2))
    elif not summaries and not failures:
        summary = lifecycle.summarize(ledger, refreshed.observed, datetime.now(UTC))
        _print(f"nothing to do: {skip_reason(summary)} in {where}")
    if failures:
        # a failed run's message says what was stored and what happens to its files; the
        # last one is raised (one line, exit status 1; SOC_DEBUG=1: its tracebacks)
        for failed in failures[:-1]:
            sys.stderr.write(f"soc-platform: {redact_text(_one_line(failed), settings.secrets)}\n")
        raise failures[-1]
    return 0


def _release_memory() -> None:
    """Between the runs of one command: free the last run's objects and hand Arrow's unused
    buffers back to the system, so the command's peak RSS is that of its largest run, not
    the sum of its runs (benchmarks/e2e.py, issue 12)."""
    import gc

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()


def _combine(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over the runs of one ``soc-platform run``, with each run's own summary."""
    total: dict[str, Any] = {
        key: sum(s[key] for s in summaries)
        for key in ("files", "lines", "events_parsed", "events_new", "duplicates", "dead_letters")
    }
    reasons: Counter[str] = Counter()
    for s in summaries:
        reasons.update(s["dead_letter_reasons"])
    total["dead_letter_reasons"] = dict(sorted(reasons.items()))
    total["files_failed"] = {k: v for s in summaries for k, v in s["files_failed"].items()}
    total["days"] = sorted({d for s in summaries for d in s["days"]})
    total["incidents"] = sorted({i for s in summaries for i in s["incidents"]})
    # after the last run: what still waits for the search backend, and why
    total["search_pending"] = summaries[-1].get("search_pending", 0) if summaries else 0
    total["search_pending_line"] = summaries[-1].get("search_pending_line", "") if summaries else ""
    total["runs"] = summaries
    return total


def _run_summary(out: dict[str, Any]) -> dict[str, Any]:
    ing = out["ingest"]
    return {
        "run_id": out["run_id"],
        "files": ing.files,
        "lines": ing.lines_read,
        "events_parsed": ing.parsed,
        "events_new": ing.appended,
        "duplicates": ing.duplicates,
        "dead_letters": ing.dead_letters,
        "dead_letter_reasons": ing.dead_letter_reasons,
        "files_failed": ing.files_failed,
        "days": [d.isoformat() for d in ing.days],
        "incidents": [i.id for i in out["incidents"]],
        "search_pending": out.get("search_pending", 0),
        "search_pending_line": out.get("search_pending_line", ""),
    }


def _print_run(summary: dict[str, Any]) -> None:
    reasons = ", ".join(f"{k}: {v}" for k, v in summary["dead_letter_reasons"].items())
    days = summary["days"]
    span = f"{days[0]}..{days[-1]}" if days else "none"
    _print(f"run {summary['run_id']}")
    _print(f"  files       {summary['files']} ({summary['lines']} lines)")
    _print(
        f"  events      {summary['events_parsed']} parsed, {summary['events_new']} new, "
        f"{summary['duplicates']} already stored (event days: {span})"
    )
    _print(f"  dead letters {summary['dead_letters']} ({reasons or 'none'})")
    for path, why in summary["files_failed"].items():
        _print(f"  unreadable  {path}: {why} (lines before the problem were kept)")
    _print(f"  incidents   {len(summary['incidents'])} in the evaluated windows")
    if summary.get("search_pending_line"):
        _print(f"  {summary['search_pending_line']}")


def cmd_backfill(args: argparse.Namespace, settings: Settings) -> int:
    from soc_platform.flow import keys

    start, end = args.start, args.end
    if end < start:
        raise ConfigurationError(f"--end {end} is before --start {start}")
    if start < settings.partitions_start:
        raise ConfigurationError(
            f"--start {start} is before the first partition (SOC_PARTITIONS_START="
            f"{settings.partitions_start})"
        )
    today = datetime.now(UTC).date()
    if end > today:
        raise ConfigurationError(f"--end {end} is in the future (today is {today} UTC)")
    from soc_platform.flow.runs import run_day_range

    preflight(settings)
    result = run_day_range(
        settings, keys.REBUILD_KEYS, start, end, "cli-backfill", verbose=args.verbose
    )
    summary: dict[str, Any] = {"run_id": result.run_id, "success": result.success}
    for mat in result.get_asset_materialization_events():
        key = mat.asset_key.to_user_string() if mat.asset_key else "?"
        meta = mat.step_materialization_data.materialization.metadata
        summary[key] = {k: getattr(v, "value", v) for k, v in meta.items()}
    checks = {
        f"{e.asset_check_evaluation_data.asset_key.to_user_string()}:"
        f"{e.asset_check_evaluation_data.check_name}": e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    summary["checks"] = {k: bool(v.passed) for k, v in checks.items()}
    if args.json:
        _print(json.dumps(summary, indent=2, default=str))
    else:
        hot = summary.get(keys.name(keys.HOT), {})
        _print(
            f"backfill {start} .. {end}: {hot.get('days', 0)} day(s) rebuilt from the lake, "
            f"{hot.get('rows', 0):,} hot rows"
            + (
                f", {hot['days_skipped_past_retention']} day(s) past retention skipped"
                if hot.get("days_skipped_past_retention")
                else ""
            )
        )
        inc = summary.get(keys.name(keys.INCIDENTS), {})
        if inc:
            _print(f"  incidents: {inc.get('incidents', 0)} found")
        for name, check in checks.items():
            state = "passed" if check.passed else "FAILED"
            _print(f"  check {name}: {state}: {check.description}")
        _print(f"  run {result.run_id} (see it in the Dagster UI)")
    if not result.success:
        from soc_platform.flow.runreport import failed_run

        raise failed_run(result, settings.secrets, "backfill", f"backfill {start} .. {end}")
    return 0
