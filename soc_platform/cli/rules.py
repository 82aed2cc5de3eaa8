"""``soc-platform rules ...``: validate, convert (with a conformance report), test, hunt."""

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from soc_platform.errors import ConfigurationError
from soc_platform.settings import Settings


def _print(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _rules_root(args: argparse.Namespace, settings: Settings) -> Path:
    from soc_platform.correlation.detection import builtin_rules_dir

    path = getattr(args, "path", None)
    return Path(path).resolve() if path else (settings.rules_dir or builtin_rules_dir())


@contextmanager
def throwaway_server(settings: Settings) -> Iterator[str]:
    """A private PostgreSQL cluster in a temporary directory: the admin DSN."""
    from soc_platform.hot.embedded import EmbeddedPostgres, free_port

    with tempfile.TemporaryDirectory(prefix="soc-rules-") as tmp:
        os.chmod(tmp, 0o755)  # the cluster may run as the postgres user
        server = EmbeddedPostgres(
            Path(tmp),
            free_port(),
            settings.pg_bin_dir,
            server_options=["-c fsync=off", "-c synchronous_commit=off"],
        )
        server.start()
        try:
            yield server.dsn("postgres")
        finally:
            server.stop()


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from soc_platform.correlation.detection import load_config
    from soc_platform.correlation.ruleset import load_rule_set
    from soc_platform.flow.rules import fixture_dirs

    root = _rules_root(args, settings)
    config = load_config(settings.detection_config)
    rule_set = load_rule_set(root, config)
    lint: list[str] = []
    tested = {p.name for p in fixture_dirs(root)}
    for rule in rule_set.rules:
        if not rule.techniques:
            lint.append(f"{rule.name}: no ATT&CK technique tag (attack.tNNNN)")
        if rule.name not in tested:
            lint.append(f"{rule.name}: no fixtures (tests/{rule.name}/positive.jsonl ...)")
    lint.extend(f"detection config: {problem}" for problem in rule_set.unknown_overrides)
    _print(
        f"{root}: {rule_set.files} file(s), {rule_set.loaded} rule(s) loaded, "
        f"{rule_set.converted} converted, {len(rule_set.rules)} raise incidents"
        + (f", {len(rule_set.disabled)} disabled" if rule_set.disabled else "")
    )
    for problem in rule_set.problems:
        _print(f"  ERROR {problem}")
    for line in lint:
        _print(f"  WARN  {line}")
    return 1 if rule_set.problems or (args.strict and lint) else 0


def cmd_convert(args: argparse.Namespace, settings: Settings) -> int:
    from soc_platform.flow.rules import convert_report

    root = _rules_root(args, settings)
    if not args.report:
        from soc_platform.correlation.ruleset import load_rule_set

        rule_set = load_rule_set(root)
        for rule in rule_set.rules:
            _print(f"-- {rule.name} ({rule.kind}) {rule.source}")
            _print(rule.query().replace("%%", "%") + ";\n")
        for problem in rule_set.problems:
            sys.stderr.write(f"soc-platform: {problem}\n")
        return 1 if rule_set.problems else 0

    with _hot_for_report(args, settings) as hot:
        report = convert_report(root, hot, _sample_events)
    stages = Counter(p.stage for p in report.problems)
    summary = {
        "path": report.root,
        "files": report.files,
        "loaded": report.loaded,
        "converted": report.converted,
        "ran": report.ran,
        "converted_pct": round(100 * report.converted_share, 1),
        "ran_pct": round(100 * report.ran / report.loaded, 1) if report.loaded else 0.0,
        "failures": [
            {"file": p.source, "rule": p.rule, "stage": p.stage, "reason": p.message}
            for p in report.problems
        ],
    }
    if args.json:
        _print(json.dumps(summary, indent=2))
        return 0
    _print(f"rules under {report.root}")
    _print(f"  files      {report.files}")
    _print(f"  loaded     {report.loaded}")
    _print(f"  converted  {report.converted} ({summary['converted_pct']}%)")
    _print(f"  ran        {report.ran} ({summary['ran_pct']}%) against waf_events")
    if report.problems:
        _print(
            f"  failures   {len(report.problems)} ("
            + ", ".join(f"{n} at {s}" for s, n in sorted(stages.items()))
            + ")"
        )
        for p in report.problems:
            _print(f"    - {Path(p.source).name} [{p.rule or '-'}] {p.stage}: {p.message}")
    return 0


@contextmanager
def _hot_for_report(args: argparse.Namespace, settings: Settings) -> Iterator[Any]:
    from soc_platform.factory import scratch_database
    from soc_platform.flow.rules import KEEP_ALL
    from soc_platform.hot.store import HotStore

    if args.dsn:
        with scratch_database(args.dsn) as dsn:
            hot = HotStore(dsn, policy=KEEP_ALL)
            hot.setup()
            yield hot
        return
    with throwaway_server(settings) as admin, scratch_database(admin) as dsn:
        hot = HotStore(dsn, policy=KEEP_ALL)
        hot.setup()
        yield hot


def _sample_events() -> Any:
    """A few hundred synthetic events: every predicate is evaluated on real rows."""
    from soc_platform.flow.rules import parse_jsonl
    from soc_platform.sources.synth import generate

    events, _ = generate(events=300, minutes=10, seed=1)
    data = "".join(json.dumps(e) + "\n" for e in events).encode()
    return parse_jsonl(data, "sample.jsonl")


def cmd_test(args: argparse.Namespace, settings: Settings) -> int:
    from soc_platform import factory
    from soc_platform.flow.rules import test_rules

    root = _rules_root(args, settings)
    detection = factory.detection(root, settings.detection_config, settings.asset_criticality)
    with throwaway_server(settings) as admin:
        results = test_rules(detection, root, admin, only=args.rule or ())
    if not results:
        raise ConfigurationError(f"no fixtures under {root}/tests (see rules/README.md)")
    failed = [r for r in results if not r.ok]
    for r in results:
        state = "ok  " if r.ok else "FAIL"
        _print(f"{state} {r.rule} {r.case}: {len(r.found)} incident(s)")
        for problem in r.problems:
            _print(f"       {problem}")
    _print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from None


def cmd_hunt(args: argparse.Namespace, settings: Settings) -> int:
    if args.end < args.start:
        raise ConfigurationError(f"--end {args.end} is before --start {args.start}")
    if args.end > datetime.now(UTC).date():
        raise ConfigurationError(f"--end {args.end} is in the future")
    root = _rules_root(args, settings)
    from soc_platform.flow.keys import RETRO_HUNT
    from soc_platform.flow.runs import run_day_range

    config = {"rules_dir": str(root), "rules": list(args.rule or [])}
    result = run_day_range(
        settings,
        [RETRO_HUNT],
        args.start,
        args.end,
        "cli-hunt",
        ops={"detection__retro_hunt": {"config": config}},
    )
    if not result.success:
        from soc_platform.flow.runreport import failed_run

        raise failed_run(result, settings.secrets, "hunt", f"retro-hunt {args.start} .. {args.end}")
    meta: dict[str, Any] = {}
    for mat in result.get_asset_materialization_events():
        data = mat.step_materialization_data.materialization.metadata
        meta = {k: getattr(v, "value", v) for k, v in data.items()}
    if args.json:
        _print(json.dumps({"run_id": result.run_id, **meta}, indent=2, default=str))
        return 0
    _print(
        f"retro-hunt {meta.get('hunt')} over {args.start} .. {args.end}: "
        f"{meta.get('incidents', 0)} incident(s) from {len(meta.get('rules', []))} rule(s)"
    )
    _print(
        f"  shadow diff against live: +{meta.get('added', 0)} added, "
        f"-{meta.get('removed', 0)} removed, ~{meta.get('changed', 0)} changed"
    )
    for row in meta.get("diff", [])[:50]:
        _print(
            f"  {row['change']:<8} {row['rule']} {row['group_key']} {row['window_start']} "
            f"live={row['live_events']} shadow={row['shadow_events']}"
        )
    _print(f"  run {result.run_id} (see it in the Dagster UI)")
    return 0


def add_parser(sub: Any) -> None:
    rules = sub.add_parser("rules", help="detection rules: validate, convert, test, hunt, stats")
    rsub = rules.add_subparsers(dest="rules_command", required=True)
    path_help = "a directory (or file) of Sigma rules; default: the configured rule set"

    val = rsub.add_parser("validate", help="load and lint the rule set")
    val.add_argument("path", nargs="?", help=path_help)
    val.add_argument("--strict", action="store_true", help="warnings fail too")

    conv = rsub.add_parser("convert", help="print each rule's SQL, or a conversion report")
    conv.add_argument("path", nargs="?", help=path_help)
    conv.add_argument(
        "--report",
        action="store_true",
        help="how many rules load, convert and run against waf_events, and why others fail",
    )
    conv.add_argument("--json", action="store_true")
    conv.add_argument(
        "--dsn",
        help="a PostgreSQL server to run the rules on (a scratch database is created and "
        "dropped); default: a throwaway embedded cluster",
    )

    test = rsub.add_parser("test", help="replay each rule's fixtures on a throwaway database")
    test.add_argument("path", nargs="?", help=path_help)
    test.add_argument("--rule", action="append", help="only this rule (repeatable)")

    hunt = rsub.add_parser(
        "hunt", help="retro-hunt: run rules over past days of the hot store, diff with live"
    )
    hunt.add_argument("--start", required=True, type=_day)
    hunt.add_argument("--end", required=True, type=_day)
    hunt.add_argument("--rules", dest="path", help=path_help)
    hunt.add_argument("--rule", action="append", help="only this rule (repeatable)")
    hunt.add_argument("--json", action="store_true")

    stats = rsub.add_parser(
        "stats", help="per rule: incidents, closed, dispositions and false-positive ratio"
    )
    stats.add_argument("--json", action="store_true")


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    from soc_platform.cli.common import _hot
    from soc_platform.incidents.stats import noisy_rules, rule_stats

    with _hot(settings).connect() as conn:
        found = rule_stats(conn)
    noisy = {
        s.rule
        for s in noisy_rules(found, settings.noisy_rule_fp_ratio, settings.noisy_rule_min_closed)
    }
    if args.json:
        _print(json.dumps([{**s.to_dict(), "noisy": s.rule in noisy} for s in found], indent=2))
        return 0
    if not found:
        _print("no incidents yet (run: soc-platform run)")
        return 0
    _print(
        f"{'rule':<32} {'incidents':>9} {'closed':>6} {'TP':>5} {'FP':>5} {'benign':>6}  FP ratio"
    )
    for s in found:
        ratio = "-" if s.fp_ratio is None else f"{s.fp_ratio:.0%}"
        flag = "  noisy" if s.rule in noisy else ""
        _print(
            f"{s.rule:<32} {s.incidents:>9} {s.closed:>6} {s.true_positive:>5} "
            f"{s.false_positive:>5} {s.benign:>6}  {ratio:>8}{flag}"
        )
    return 0


def cmd_rules(args: argparse.Namespace, settings: Settings) -> int:
    return {
        "validate": cmd_validate,
        "convert": cmd_convert,
        "test": cmd_test,
        "hunt": cmd_hunt,
        "stats": cmd_stats,
    }[args.rules_command](args, settings)
