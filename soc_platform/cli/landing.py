"""``soc-platform landing ...``: list the landing ledger, release quarantined or failed files."""

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from soc_platform.errors import ConfigurationError
from soc_platform.models import FileState, LedgerEntry
from soc_platform.settings import Settings

if TYPE_CHECKING:
    from soc_platform.sources.ledger import LandingLedger
    from soc_platform.sources.s3 import S3Area


def _print(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    landing = sub.add_parser(
        "landing", help="landing files not yet done: list them, release quarantined ones"
    )
    cmds = landing.add_subparsers(dest="landing_command", required=True)
    ls = cmds.add_parser("list", help="files in the ledger (pending, claimed, failed, quarantined)")
    ls.add_argument("--state", choices=[s.value for s in FileState], help="only this state")
    ls.add_argument("--json", action="store_true")
    ls.add_argument("--source", choices=("local", "s3"), default="local")
    rel = cmds.add_parser(
        "release",
        help="move a quarantined file back to landing (or retry a failed one now)",
    )
    rel.add_argument("paths", nargs="*", metavar="PATH", help="landing or quarantine path")
    rel.add_argument("--all", action="store_true", help="every quarantined and failed file")
    rel.add_argument(
        "--source",
        choices=("local", "s3"),
        default="local",
        help="s3: PATH is an object key (or its quarantine/ key) of the S3 source",
    )


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"


def _as_dict(f: LedgerEntry) -> dict[str, object]:
    return {
        "path": f.path,
        "state": f.state.value,
        "size": f.size,
        "attempts": f.attempts,
        "alone_failures": f.alone_failures,
        "claim": f.claim,
        "next_attempt_at": f.next_attempt_at.isoformat() if f.next_attempt_at else None,
        "first_failed_at": f.first_failed_at.isoformat() if f.first_failed_at else None,
        "quarantined_to": f.quarantined_to,
        "last_error": f.last_error,
    }


def cmd_landing(args: argparse.Namespace, settings: Settings) -> int:
    from soc_platform import factory
    from soc_platform.cli.common import _hot

    if args.source == "s3":
        from soc_platform.sources.s3 import area_from_settings

        s3 = area_from_settings(settings)
        ledger = s3.ledger(_hot(settings))
        if args.landing_command == "release":
            return _release_s3(args, s3, ledger)
    else:
        ledger = factory.landing_area(settings).ledger(_hot(settings))
    if args.landing_command == "list":
        states = [FileState(args.state)] if args.state else list(FileState)
        entries = ledger.entries(states)
        if args.json:
            _print(json.dumps([_as_dict(f) for f in entries], indent=2))
            return 0
        if not entries:
            which = f"{args.state} " if args.state else ""
            _print(f"no {which}landing files in the ledger")
            return 0
        for f in entries:
            if f.state is FileState.QUARANTINED:
                detail = f"-> {f.quarantined_to}"
            elif f.state is FileState.FAILED:
                detail = f"retry after {_when(f.next_attempt_at)}"
            elif f.state is FileState.CLAIMED:
                detail = f"held by {f.claim}"
            else:
                detail = ""
            _print(f"{f.state.value:<11} {f.attempts:>2} tries  {f.path}  {detail}".rstrip())
            if f.last_error:
                _print(f"    {f.last_error}")
        return 0
    return _release(args, settings, ledger)


def _release(args: argparse.Namespace, settings: Settings, ledger: "LandingLedger") -> int:
    from soc_platform.sources.landing import move_file

    if not args.paths and not args.all:
        raise ConfigurationError("landing release needs PATH arguments or --all")
    entries = ledger.entries([FileState.QUARANTINED, FileState.FAILED])
    wanted = {str(Path(p).expanduser().resolve()) for p in args.paths}
    chosen = [
        f for f in entries if args.all or f.path in wanted or (f.quarantined_to or "") in wanted
    ]
    missing = wanted - {f.path for f in chosen} - {f.quarantined_to for f in chosen}
    if missing:
        raise ConfigurationError(
            f"not quarantined or failed: {', '.join(sorted(missing))} "
            "(see: soc-platform landing list)"
        )
    for f in chosen:
        if f.state is FileState.FAILED:
            ledger.reset(f)
            _print(f"retry at the next run: {f.path}")
            continue
        source = Path(f.quarantined_to or "")
        if not source.exists():
            ledger.forget(f)
            _print(f"forgotten (no longer in quarantine): {f.path}")
            continue
        back = move_file(source, settings.quarantine_dir, settings.landing_dir)
        ledger.forget(f)
        _print(f"released: {source} -> {back}")
    return 0


def _release_s3(args: argparse.Namespace, area: "S3Area", ledger: "LandingLedger") -> int:
    """``landing release --source s3``: quarantined objects go back under their key."""
    if not args.paths and not args.all:
        raise ConfigurationError("landing release needs object keys or --all")
    entries = ledger.entries([FileState.QUARANTINED, FileState.FAILED])
    wanted = set(args.paths)
    bucket = f"s3://{area.config.bucket}/"
    chosen = [
        f
        for f in entries
        if args.all
        or f.path in wanted
        or (f.quarantined_to or "") in wanted
        or (f.quarantined_to or "").removeprefix(bucket) in wanted
    ]
    known = {f.path for f in chosen} | {f.quarantined_to or "" for f in chosen}
    known |= {k.removeprefix(bucket) for k in known}
    missing = wanted - known
    if missing:
        raise ConfigurationError(
            f"not quarantined or failed: {', '.join(sorted(missing))} "
            "(see: soc-platform landing list --source s3)"
        )
    for f in chosen:
        if f.state is FileState.FAILED:
            ledger.reset(f)
            _print(f"retry at the next run: {f.path}")
            continue
        try:
            area.restore_file(f.quarantined_to or "", f.path)
        except FileNotFoundError:
            ledger.forget(f)
            _print(f"forgotten (no longer in quarantine): {f.path}")
            continue
        ledger.forget(f)
        _print(f"released: {f.quarantined_to} -> {bucket}{f.path}")
    return 0
