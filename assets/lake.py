"""The raw lake. Written only by the micro-batch ingestion (landing files are transient, so
the lake cannot be "recomputed"): declared as specs whose materializations the micro-batch
job reports per event day. Everything downstream rebuilds from here."""

from dagster import AssetKey, AssetSpec, DailyPartitionsDefinition


def build_lake_specs(partitions: DailyPartitionsDefinition) -> list[AssetSpec]:
    return [
        AssetSpec(
            key=AssetKey(["lake", "raw_waf_events"]),
            group_name="lake",
            partitions_def=partitions,
            description=(
                "Every raw WAF event, verbatim (`raw`) plus its parsed columns, in the Iceberg "
                "table `soc.raw_waf_events`, hidden-partitioned by day(event_time). Source of "
                "truth; readable with pyiceberg, DuckDB, Spark, Trino."
            ),
            kinds={"iceberg"},
            metadata={"table": "soc.raw_waf_events"},
        ),
        AssetSpec(
            key=AssetKey(["lake", "dead_letter"]),
            group_name="lake",
            description=(
                "Input lines that did not become events (invalid JSON, missing fields, bad IP "
                "or timestamp, wrong types), with raw line, source file, line offset and reason."
            ),
            kinds={"iceberg"},
            metadata={"table": "soc.dead_letter"},
        ),
    ]
