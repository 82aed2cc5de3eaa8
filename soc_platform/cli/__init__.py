"""The ``soc-platform`` command: the parser and the entry point. One module per command
group: ``run`` (generate, run, backfill), ``incidents`` (incidents, search), ``server``
(status, stop, demo, dev), ``rules``, ``landing``, ``lake``; ``common`` holds what they share."""

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Sequence

from soc_platform.cli import alerts as cli_alerts
from soc_platform.cli import incident as cli_incident
from soc_platform.cli import lake as cli_lake
from soc_platform.cli import landing as cli_landing
from soc_platform.cli import rules as cli_rules
from soc_platform.cli import ui as cli_ui
from soc_platform.cli.common import _day, _root_cause
from soc_platform.cli.incidents import add_filter_arguments, cmd_incidents, cmd_search
from soc_platform.cli.run import cmd_backfill, cmd_generate, cmd_run
from soc_platform.cli.server import cmd_demo, cmd_dev, cmd_status, cmd_stop
from soc_platform.redact import redact_text
from soc_platform.settings import load_settings


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
    add_filter_arguments(inc)

    search = sub.add_parser(
        "search",
        help="incident search: free text plus filters (status:open severity:>=high "
        "ip:192.168.0.0/16 rule:... technique:T1190 tactic:... host:... country:RU asn:... "
        "since:24h)",
    )
    search.add_argument("query", help="the query, or `reindex`: index every incident again")
    search.add_argument("--sort", choices=("time", "score"), default="time")
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

    dev = sub.add_parser(
        "dev", help="the Dagster UI and daemon, and the analyst UI, on the embedded defaults"
    )
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument("--ui-port", type=int, default=8080, help="the analyst UI's port (8080)")

    cli_incident.add_parser(sub)
    cli_rules.add_parser(sub)
    cli_landing.add_parser(sub)
    cli_lake.add_parser(sub)
    cli_alerts.add_parser(sub)
    cli_ui.add_parser(sub)
    return parser


COMMANDS = {
    "generate": cmd_generate,
    "run": cmd_run,
    "incidents": cmd_incidents,
    "incident": cli_incident.cmd_incident,
    "search": cmd_search,
    "demo": cmd_demo,
    "dev": cmd_dev,
    "backfill": cmd_backfill,
    "rules": cli_rules.cmd_rules,
    "status": cmd_status,
    "stop": cmd_stop,
    "landing": cli_landing.cmd_landing,
    "lake": cli_lake.cmd_lake,
    "alerts": cli_alerts.cmd_alerts,
    "ui": cli_ui.cmd_ui,
    "users": cli_ui.cmd_users,
}


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
