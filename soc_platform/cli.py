"""The ``soc-platform`` command."""

import argparse
import gzip
import json
import os
import shutil
import signal
import sys
import traceback
import warnings
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from soc_platform import cli_lake, cli_landing, cli_rules
from soc_platform.errors import (
    ConfigurationError,
    DependencyError,
    HotStoreError,
    RunFailedError,
    SocPlatformError,
)
from soc_platform.redact import redact_text
from soc_platform.settings import Settings, load_settings

SAMPLE_QUERY = "blocked attempts from 192.168"


def _print(text: str = "") -> None:
    sys.stdout.write(text + "\n")


# -- generate ---------------------------------------------------------------------------


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    from soc_platform.synth import generate

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


# -- run ----------------------------------------------------------------------------------


def preflight(settings: Settings) -> None:
    """Reach the hot store and the lake before starting a run, so a misconfiguration is
    reported as one clear line rather than as a failed Dagster step."""
    from soc_platform.stores.lake import Lake, LakeConfig

    _hot(settings)
    Lake(LakeConfig.from_settings(settings)).ensure_tables()


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
    from soc_platform.instance import (
        CLAIM_TAG,
        HOST_TAG,
        PID_STARTED_TAG,
        PID_TAG,
        prepare_dagster_home,
    )
    from soc_platform.lifecycle import this_process

    if check_stores:
        preflight(settings)
    prepare_dagster_home(settings)
    from soc_platform.runreport import for_terminal

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
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(
            run_config={
                "ops": {
                    "ingest_landing_files": {"config": _ingest_config(settings, files, source)}
                },
                "loggers": {"console": {"config": {"log_level": level}}},
            },
            instance=instance,
            tags=tags,
            raise_on_error=False,
        )
    if not result.success:
        from soc_platform.runreport import failed_run

        raise failed_run(result, settings.secrets, "microbatch")
    return {
        "run_id": result.run_id,
        "ingest": result.output_for_node("ingest_landing_files"),
        "incidents": result.output_for_node("correlate_incidents").incidents,
    }


def _ingest_config(settings: Settings, files: Sequence[str], source: str) -> dict[str, Any]:
    formats = {"s3": settings.s3_format, "nats": settings.nats_format}
    config: dict[str, Any] = {"files": list(files), "source": source}
    if source in formats:
        config["source_format"] = formats[source]
    return config


def _one_line(exc: BaseException) -> str:
    """Why a run failed, in one line: our own error's message, else the innermost cause
    (the exception a step raised, not Dagster's wrapper around it)."""
    cause: BaseException | None = _root_cause(exc)
    if cause is not None:
        return (str(cause).strip() or type(cause).__name__).splitlines()[0]
    cur, seen = exc, {id(exc)}
    while True:
        nxt = getattr(cur, "user_exception", None) or cur.__cause__
        if nxt is None or id(nxt) in seen:
            break
        seen.add(id(nxt))
        cur = nxt
    text = str(cur).strip()
    return f"{type(cur).__name__}: {text.splitlines()[0]}" if text else type(cur).__name__


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Process the landing directory now: the files no sensor run holds, in runs of
    bounded size, claimed in the landing ledger like the sensor's runs."""
    from dagster import DagsterInstance

    from soc_platform import lifecycle
    from soc_platform.instance import claim_run, prepare_dagster_home, reap_dead_runs
    from soc_platform.planning import skip_reason

    if args.source == "nats":
        from soc_platform.cli_sources import run_nats

        return run_nats(args, settings, run_microbatch, _run_summary, _print_run, _combine)
    area: lifecycle.Area
    if args.source == "s3":
        from soc_platform.sources.s3 import area_from_settings

        area = area_from_settings(settings)
        where = area.source
    else:
        area = lifecycle.LandingArea.from_settings(settings)
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
    policy = lifecycle.policy_from_settings(settings)
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


# -- incidents / search ---------------------------------------------------------------------


# -- backfill ----------------------------------------------------------------------------


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from None


def run_backfill(settings: Settings, start: date, end: date, verbose: bool = False) -> Any:
    """Rebuild hot rows, aggregates, incidents and index of [start, end] from the lake, as
    one Dagster run over that partition range (recorded in the instance like a UI
    backfill)."""
    from dagster import DagsterInstance

    from soc_platform.definitions import build_definitions, rebuild_selection
    from soc_platform.instance import prepare_dagster_home

    preflight(settings)
    prepare_dagster_home(settings)
    from soc_platform.runreport import for_terminal

    defs = build_definitions(settings)
    job = for_terminal(defs.resolve_implicit_global_asset_job_def(), verbose)
    level = "DEBUG" if verbose else "WARNING"
    with DagsterInstance.get() as instance:
        return job.execute_in_process(
            instance=instance,
            asset_selection=rebuild_selection(),
            run_config={"loggers": {"console": {"config": {"log_level": level}}}},
            tags={
                "dagster/asset_partition_range_start": start.isoformat(),
                "dagster/asset_partition_range_end": end.isoformat(),
                "soc/trigger": "cli-backfill",
            },
            raise_on_error=False,
        )


def cmd_backfill(args: argparse.Namespace, settings: Settings) -> int:
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
    result = run_backfill(settings, start, end, verbose=args.verbose)
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
        hot = summary.get("hot/waf_events", {})
        _print(
            f"backfill {start} .. {end}: {hot.get('days', 0)} day(s) rebuilt from the lake, "
            f"{hot.get('rows', 0):,} hot rows"
            + (
                f", {hot['days_skipped_past_retention']} day(s) past retention skipped"
                if hot.get("days_skipped_past_retention")
                else ""
            )
        )
        inc = summary.get("detection/incidents", {})
        if inc:
            _print(f"  incidents: {inc.get('incidents', 0)} found")
        for name, check in checks.items():
            state = "passed" if check.passed else "FAILED"
            _print(f"  check {name}: {state}: {check.description}")
        _print(f"  run {result.run_id} (see it in the Dagster UI)")
    if not result.success:
        from soc_platform.runreport import failed_run

        raise failed_run(result, settings.secrets, "backfill", f"backfill {start} .. {end}")
    return 0


def _hot(settings: Settings) -> Any:
    from soc_platform.stores.hot import HotPolicy, HotStore
    from soc_platform.stores.pgserver import EmbeddedPostgres

    dsn = (
        settings.pg_dsn
        or EmbeddedPostgres(settings.pg_data_dir, settings.pg_port, settings.pg_bin_dir).start()
    )
    store = HotStore(dsn, policy=HotPolicy.from_settings(settings))
    store.setup()
    return store


def _fmt_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ")


def cmd_incidents(args: argparse.Namespace, settings: Settings) -> int:
    found = _hot(settings).list_incidents(limit=args.limit)
    if args.json:
        _print(json.dumps([i.to_document() for i in found], indent=2))
        return 0
    if not found:
        _print("no incidents yet (run: soc-platform run)")
        return 0
    for inc in found:
        status = f"  [{inc.status}: {inc.suppression}]" if inc.status != "open" else ""
        _print(
            f"{inc.id}  {inc.severity:<8} {inc.score:>3}  {inc.rule:<28} "
            f"{_fmt_time(inc.start_time)}  {inc.event_count:>5} events{status}"
        )
        _print(f"    {inc.description}")
        if inc.attack_techniques:
            _print(f"    ATT&CK {', '.join(inc.attack_techniques)}; {'; '.join(inc.score_reasons)}")
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from soc_platform.stores.search import make_search_backend

    # the hot store is needed by the embedded backend only: do not start it otherwise
    hot = _hot(settings) if settings.search_backend == "embedded" else None
    backend = make_search_backend(hot, settings.meili_url, settings.meili_api_key)
    hits = backend.search(args.query, limit=args.limit)
    if args.json:
        _print(
            json.dumps(
                {"backend": backend.name, "query": args.query, "hits": [h.to_dict() for h in hits]},
                indent=2,
            )
        )
        return 0
    _print(f"{len(hits)} result(s) for {args.query!r} ({backend.name} search)")
    for hit in hits:
        _print(
            f"  {hit.id}  {hit.severity:<8} {hit.rule:<28} {hit.client_ip:<16} "
            f"{_fmt_time(hit.start_time)}"
        )
        _print(f"      {hit.description}")
    return 0


# -- status / stop ----------------------------------------------------------------------------


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from soc_platform.stores.status import status

    state = status(settings)
    if args.json:
        _print(json.dumps(state, indent=2, default=str))
        return 0
    for line in format_status(state):
        _print(line)
    return 0


def _rows(rows: dict[str, Any]) -> str:
    return ", ".join(
        f"{name} {count:,}" if isinstance(count, int) else f"{name} {count}"
        for name, count in rows.items()
    )


def format_status(state: dict[str, Any]) -> list[str]:
    """``soc-platform status`` as text: one block per part."""
    hot, lake, search, landing = (
        state["hot_store"],
        state["lake"],
        state["search"],
        state["landing"],
    )
    lines = [f"data dir     {state['data_dir']}"]
    if hot["mode"] == "embedded":
        if hot["running"]:
            where = f"running, pid {hot['pid']}, 127.0.0.1:{hot['port']}"
        elif hot["initialized"]:
            port = f", last port {hot['port']}" if hot["port"] else ""
            where = f"stopped{port} (any command that needs it starts it)"
        else:
            where = "not created yet (the first command that needs it creates it)"
        lines.append(f"hot store    embedded PostgreSQL: {where}")
        lines.append(f"             data dir {hot['data_dir']}")
    else:
        lines.append(f"hot store    external PostgreSQL {hot['dsn']}")
    if hot.get("reachable") is False:
        lines.append(f"             unreachable: {hot['error']}")
    elif hot.get("reachable"):
        dialect = hot.get("dialect") or "schema not set up yet"
        lines.append(
            f"             PostgreSQL {hot['version']}, {dialect}"
            + (f", schema version {hot['schema_version']}" if hot.get("schema_version") else "")
        )
        if hot.get("rows"):
            lines.append(f"             rows: {_rows(hot['rows'])}")
    lines.append(f"lake         catalog {lake['catalog']}")
    lines.append(f"             warehouse {lake['warehouse']}")
    if "s3_endpoint" in lake:
        lines.append(f"             S3 endpoint {lake['s3_endpoint']}")
    if lake.get("error"):
        lines.append(f"             unreachable: {lake['error']}")
    elif lake.get("tables"):
        lines.append(f"             rows: {_rows(lake['tables'])}")
    elif lake.get("note"):
        lines.append(f"             {lake['note']}")
    if search["backend"] == "meilisearch":
        lines.append(f"search       Meilisearch {search['url']}: {search['health']}")
    else:
        lines.append(f"search       embedded ({search['where']})")
    if landing.get("error"):
        lines.append(f"landing      {landing['dir']}: {landing['error']}")
    else:
        lines.append(
            f"landing      {landing['dir']}: {landing['files_waiting']} file(s) waiting "
            f"({landing['bytes_waiting']:,} bytes)"
        )
    lines.append(f"dagster home {state['dagster_home']}")
    return lines


def cmd_stop(args: argparse.Namespace, settings: Settings) -> int:
    from soc_platform.stores.pgserver import EmbeddedPostgres

    server = EmbeddedPostgres(settings.pg_data_dir, settings.pg_port, settings.pg_bin_dir)
    external = (
        "" if settings.embedded_pg else " (the hot store is the external server of SOC_PG_DSN)"
    )
    was = server.stop()
    if not was.running:
        _print(f"the embedded PostgreSQL in {server.root} is not running{external}")
        return 0
    if server.state().running:
        raise SocPlatformError(
            f"the embedded PostgreSQL in {server.root} (pid {was.pid}) did not stop: "
            f"see {server.log_file}"
        )
    _print(f"stopped the embedded PostgreSQL (pid {was.pid}, port {was.port}) in {server.root}")
    return 0


# -- demo / dev -------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    gen = argparse.Namespace(
        out=str(settings.landing_dir),
        events=args.events,
        minutes=args.minutes,
        seed=args.seed,
        truth=None,
    )
    _print("== 1. generate synthetic WAF traffic into the landing directory")
    cmd_generate(gen, settings)
    _print("\n== 2. run the micro-batch job (lake -> hot store -> correlation -> search)")
    cmd_run(argparse.Namespace(json=False, verbose=False), settings)
    _print("\n== 3. incidents")
    cmd_incidents(argparse.Namespace(json=False, limit=10), settings)
    _print(f"\n== 4. search: {SAMPLE_QUERY!r}")
    cmd_search(argparse.Namespace(json=False, limit=5, query=SAMPLE_QUERY), settings)
    _print("\n== 5. operate it in the Dagster UI")
    _print("  make dev    (or: .venv/bin/soc-platform dev), then open http://127.0.0.1:3000")
    _print(f"  data directory: {settings.data_dir}")
    return 0


def cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    from soc_platform.instance import prepare_dagster_home
    from soc_platform.stores.pgserver import EmbeddedPostgres, port_is_free

    if settings.embedded_pg:  # start it now so a port clash is reported before the UI starts
        EmbeddedPostgres(settings.pg_data_dir, settings.pg_port, settings.pg_bin_dir).start()
    if not port_is_free(args.port, args.host):
        raise ConfigurationError(
            f"port {args.port} on {args.host} is taken: pass --port with a free one"
        )
    home = prepare_dagster_home(settings)
    tmp = settings.data_dir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TMPDIR", str(tmp))
    dagster = shutil.which("dagster") or str(Path(sys.executable).parent / "dagster")
    if not Path(dagster).exists():
        raise DependencyError("the dagster command is not installed (run: make install)")
    _print(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={home}); Ctrl-C stops it")
    argv = [
        dagster,
        "dev",
        "-m",
        "soc_platform.definitions",
        "-a",
        "defs",
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    # A shell that backgrounds a job non-interactively makes it ignore SIGINT, and dagster
    # maps SIGTERM onto the SIGINT handler, so it would ignore SIGTERM as well: restore the
    # default before replacing this process (signals then go straight to dagster).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.execv(dagster, argv)
    return 0  # pragma: no cover


# -- entry point ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="soc-platform",
        description="WAF events -> Iceberg lake -> PostgreSQL hot store -> incidents -> search.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write synthetic WAF traffic with attack campaigns")
    gen.add_argument("--out", required=True, help="folder to write .jsonl.gz files into")
    gen.add_argument("--events", type=int, default=5000)
    gen.add_argument("--minutes", type=int, default=60)
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--truth", help="ground-truth JSON path (default: OUT/_truth-sSEED.json)")

    run = sub.add_parser("run", help="process every file in the landing directory now")
    run.add_argument(
        "--source",
        choices=("local", "s3", "nats"),
        default="local",
        help="local: the landing directory (default); s3: the objects under SOC_S3_BUCKET/"
        "SOC_S3_PREFIX; nats: the messages pending on the SOC_NATS_URL consumer",
    )
    run.add_argument("--json", action="store_true")
    run.add_argument("--verbose", action="store_true", help="show the Dagster run's log")

    inc = sub.add_parser("incidents", help="list incidents, newest first")
    inc.add_argument("--json", action="store_true")
    inc.add_argument("--limit", type=int, default=50)

    search = sub.add_parser("search", help="free-text incident search")
    search.add_argument("query")
    search.add_argument("--json", action="store_true")
    search.add_argument("--limit", type=int, default=20)

    demo = sub.add_parser("demo", help="generate, run, list incidents and search")
    demo.add_argument("--events", type=int, default=5000)
    demo.add_argument("--minutes", type=int, default=60)
    demo.add_argument("--seed", type=int, default=7)

    back = sub.add_parser(
        "backfill",
        help="rebuild hot rows, aggregates and incidents of a day range from the lake",
    )
    back.add_argument("--start", required=True, type=_day, help="first day (YYYY-MM-DD, UTC)")
    back.add_argument("--end", required=True, type=_day, help="last day, inclusive")
    back.add_argument("--json", action="store_true")
    back.add_argument("--verbose", action="store_true", help="show the Dagster run's log")

    status = sub.add_parser(
        "status", help="what runs where: hot store, lake, search, landing, Dagster home"
    )
    status.add_argument("--json", action="store_true")

    sub.add_parser("stop", help="stop the embedded PostgreSQL cluster")

    dev = sub.add_parser("dev", help="the Dagster UI and daemon on the embedded defaults")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)

    cli_rules.add_parser(sub)
    cli_landing.add_parser(sub)
    cli_lake.add_parser(sub)
    return parser


COMMANDS = {
    "generate": cmd_generate,
    "run": cmd_run,
    "incidents": cmd_incidents,
    "search": cmd_search,
    "demo": cmd_demo,
    "dev": cmd_dev,
    "backfill": cmd_backfill,
    "rules": cli_rules.cmd_rules,
    "status": cmd_status,
    "stop": cmd_stop,
    "landing": cli_landing.cmd_landing,
    "lake": cli_lake.cmd_lake,
}


def _root_cause(exc: BaseException) -> SocPlatformError | None:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, SocPlatformError):
            return cur
        seen.add(id(cur))
        nxt = getattr(cur, "user_exception", None) or cur.__cause__ or cur.__context__
        cur = nxt
    return None


def main(argv: Sequence[str] | None = None) -> int:
    # Dagster flags some APIs we use (backfill policies, sensor owners) as beta; users of
    # the command line cannot act on that.
    warnings.filterwarnings("ignore", message=r".*is currently in beta")
    args = build_parser().parse_args(argv)
    secrets: list[str] = []
    try:
        settings = load_settings()
        secrets = settings.secrets
        return COMMANDS[args.command](args, settings)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `soc-platform search ... | head`: the reader is gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # one clear line, not a traceback, for errors users can fix
        cause = _root_cause(exc)
        if os.environ.get("SOC_DEBUG"):
            details = getattr(cause, "details", "")  # a failed run: its steps' tracebacks
            if details:
                sys.stderr.write(f"{details}\n")
            raise
        if cause is None:  # a bug: the traceback, without credentials
            text = "".join(traceback.format_exception(exc))
            sys.stderr.write(redact_text(text, secrets))
            return 1
        sys.stderr.write(f"soc-platform: error: {redact_text(str(cause), secrets)}\n")
        # 1: a run failed part-way (it says what was stored); 2: usage or configuration
        return int(getattr(cause, "exit_status", 2))


if __name__ == "__main__":
    sys.exit(main())
