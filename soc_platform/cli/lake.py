"""``soc-platform lake info``: where the lake's tables are, for readers other than
soc-platform (DuckDB's ``iceberg_scan``, Spark, Trino; README "Data scientists")."""

import argparse
import json
import sys
from typing import Any

from soc_platform.redact import redact_url
from soc_platform.settings import Settings


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    lake = sub.add_parser("lake", help="the Iceberg lake's catalog, tables and metadata files")
    cmds = lake.add_subparsers(dest="lake_command", required=True)
    info = cmds.add_parser(
        "info", help="catalog, warehouse and each table's current metadata file and size"
    )
    info.add_argument("--json", action="store_true")


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


def cmd_lake(args: argparse.Namespace, settings: Settings) -> int:
    info = lake_info(settings)
    if args.json:
        sys.stdout.write(json.dumps(info, indent=2) + "\n")
        return 0
    out = [f"catalog    {info['catalog']}", f"warehouse  {info['warehouse']}"]
    for name, t in info["tables"].items():
        out += [
            f"{name}",
            f"  metadata   {t['metadata_location']}",
            f"  records    {t['records']} in {t['data_files']} data files "
            f"(snapshot {t['snapshot_id']})",
        ]
    sys.stdout.write("\n".join(out) + "\n")
    return 0
