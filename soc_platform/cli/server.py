"""``status``, ``stop``, ``demo`` and ``dev``: the deployment's state, the embedded server,
the demo and the Dagster UI."""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from soc_platform.cli.common import SAMPLE_QUERY, _print
from soc_platform.cli.incidents import cmd_incidents, cmd_search
from soc_platform.cli.run import cmd_generate, cmd_run
from soc_platform.errors import (
    ConfigurationError,
    DependencyError,
    SocPlatformError,
)
from soc_platform.settings import Settings


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from soc_platform.cli.status import status

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
    from soc_platform.hot.embedded import EmbeddedPostgres

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


def _parsed(*argv: str) -> argparse.Namespace:
    """A command's arguments as its own parser gives them (every option the command has
    since gained at its default), for the commands the demo runs in turn."""
    from soc_platform.cli import build_parser

    return build_parser().parse_args(list(argv))


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    gen = _parsed(
        "generate",
        "--out",
        str(settings.landing_dir),
        "--events",
        str(args.events),
        "--minutes",
        str(args.minutes),
        "--seed",
        str(args.seed),
    )
    _print("== 1. generate synthetic WAF traffic into the landing directory")
    cmd_generate(gen, settings)
    _print("\n== 2. run the micro-batch job (lake -> hot store -> correlation -> search)")
    cmd_run(_parsed("run", "--source", "local"), settings)
    _print("\n== 3. incidents")
    cmd_incidents(_parsed("incidents", "--limit", "10"), settings)
    _print(f"\n== 4. search: {SAMPLE_QUERY!r}")
    cmd_search(_parsed("search", SAMPLE_QUERY, "--limit", "5"), settings)
    _print("\n== 5. operate it in the Dagster UI and the analyst UI")
    _print("  make dev    (or: .venv/bin/soc-platform dev), then open http://127.0.0.1:3000")
    _print("  (Dagster) and http://127.0.0.1:8080 (incidents; soc-platform users add NAME first)")
    _print(f"  data directory: {settings.data_dir}")
    return 0


def _die_with_parent() -> None:
    """In a child before exec: receive SIGTERM when the parent ends (Linux
    ``prctl(PR_SET_PDEATHSIG)``; elsewhere nothing, and Ctrl-C still stops both)."""
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    from soc_platform.flow.instance import prepare_dagster_home
    from soc_platform.hot.embedded import EmbeddedPostgres, port_is_free

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
    if not port_is_free(args.ui_port, args.host):
        raise ConfigurationError(
            f"port {args.ui_port} on {args.host} is taken: pass --ui-port with a free one"
        )
    # the analyst UI beside Dagster's: a child process in the same process group (Ctrl-C
    # stops both) that the kernel also stops when its parent (this process, dagster once
    # exec'd) ends, however it ends (SIGTERM to it alone, kill -9): no orphan keeps the port
    subprocess.Popen(
        [
            sys.executable,
            "-m",
            "soc_platform.cli",
            "ui",
            "--host",
            args.host,
            "--port",
            str(args.ui_port),
        ],
        preexec_fn=_die_with_parent,
    )
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
