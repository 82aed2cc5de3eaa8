"""``soc-platform lake ...``: where the lake's tables are, for readers other than
soc-platform (``lake info``: DuckDB's ``iceberg_scan``, Spark, Trino; README "Data
scientists"), and its upkeep (compaction, snapshot expiry, orphan removal, files per day;
README "Keeping the lake small")."""

import argparse
import json
import sys
from datetime import timedelta
from typing import Any

from soc_platform.cli.common import _day
from soc_platform.redact import redact_url
from soc_platform.settings import Settings


def _print(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    lake = sub.add_parser(
        "lake",
        help="the Iceberg lake: its catalog and tables; upkeep (compaction, snapshot expiry, "
        "orphan removal)",
    )
    cmds = lake.add_subparsers(dest="lake_command", required=True)
    for name, text in (
        ("info", "catalog, warehouse and each table's current metadata file and size"),
        ("maintain", "compact, expire and remove orphans (what the hourly job does)"),
        ("compact", "rewrite each day's small files into few files sorted by time"),
        ("expire", "expire snapshots older than SOC_LAKE_SNAPSHOT_RETENTION_DAYS"),
        ("orphans", "delete unreferenced files older than SOC_LAKE_ORPHAN_GRACE_HOURS"),
        ("files", "data files per day"),
    ):
        cmd = cmds.add_parser(name, help=text)
        cmd.add_argument("--json", action="store_true")
        if name in ("maintain", "compact"):
            cmd.add_argument(
                "--day",
                type=_day,
                action="append",
                help="only this day (YYYY-MM-DD, UTC; repeatable); default: every day "
                "holding more than one file",
            )


def lake_info(settings: Settings) -> dict[str, Any]:
    """The catalog, the warehouse and, per table, its current metadata file (what
    ``iceberg_scan`` reads), snapshot and record count."""
    from soc_platform.lake.iceberg import DEAD_LETTER, RAW_EVENTS, Lake, LakeConfig

    config = LakeConfig.from_settings(settings)
    lake = Lake(config)
    lake.ensure_tables()
    tables = {}
    for name in (RAW_EVENTS, DEAD_LETTER):
        table = lake.table(name)
        snapshot = table.current_snapshot()
        summary = snapshot.summary if snapshot is not None else None

        def total(key: str, summary: Any = summary) -> int:
            return int(summary.get(key) or 0) if summary is not None else 0

        tables[f"{config.namespace}.{name}"] = {
            "metadata_location": table.metadata_location,
            "location": table.location(),
            "snapshot_id": snapshot.snapshot_id if snapshot is not None else None,
            "records": total("total-records"),
            "data_files": total("total-data-files"),
        }
    return {
        "catalog": redact_url(config.catalog_uri),
        "warehouse": redact_url(config.warehouse),
        "namespace": config.namespace,
        "tables": tables,
    }


def _cmd_info(args: argparse.Namespace, settings: Settings) -> int:
    info = lake_info(settings)
    if args.json:
        _print(json.dumps(info, indent=2))
        return 0
    out = [f"catalog    {info['catalog']}", f"warehouse  {info['warehouse']}"]
    for name, t in info["tables"].items():
        out += [
            f"{name}",
            f"  metadata   {t['metadata_location']}",
            f"  records    {t['records']} in {t['data_files']} data files "
            f"(snapshot {t['snapshot_id']})",
        ]
    _print("\n".join(out))
    return 0


def cmd_lake(args: argparse.Namespace, settings: Settings) -> int:
    if args.lake_command == "info":
        return _cmd_info(args, settings)

    from soc_platform import factory

    lake = factory.lake(settings)
    lake.ensure_tables()
    retention = timedelta(days=settings.lake_snapshot_retention_days)
    grace = timedelta(hours=settings.lake_orphan_grace_hours)
    out: dict[str, Any] = {}
    what = args.lake_command
    if what in ("maintain", "compact"):
        days = args.day or [d for d, n in lake.files_per_day().items() if n > 1]
        out["compacted"] = {
            c.day.isoformat(): {"files_before": c.files_before, "files_after": c.files_after}
            for c in (lake.compact_day(d) for d in sorted(set(days)))
        }
    if what in ("maintain", "expire"):
        out["snapshots_expired"] = lake.expire_snapshots(retention)
    if what in ("maintain", "orphans"):
        out["orphans_removed"] = {k: len(v) for k, v in lake.remove_orphans(grace).items()}
    if what == "files":
        out["files_per_day"] = {d.isoformat(): n for d, n in lake.files_per_day().items()}
    if args.json:
        _print(json.dumps(out, indent=2))
        return 0
    for day, c in out.get("compacted", {}).items():
        _print(f"compacted {day}: {c['files_before']} -> {c['files_after']} files")
    if "compacted" in out and not out["compacted"]:
        _print("compacted: no day holds more than one file")
    for table, n in out.get("snapshots_expired", {}).items():
        _print(f"{table}: {n} snapshot(s) older than {retention.days} day(s) expired")
    for table, n in out.get("orphans_removed", {}).items():
        _print(f"{table}: {n} orphan file(s) removed")
    for day, n in out.get("files_per_day", {}).items():
        _print(f"{day}  {n} file(s)")
    return 0
