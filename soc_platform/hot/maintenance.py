"""The hot store's daily upkeep: partitions ahead and past retention (plain PostgreSQL),
aggregate pruning, TimescaleDB policies and their failing jobs."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from psycopg import sql as pgsql

from soc_platform import sql
from soc_platform.days import day_start
from soc_platform.hot.aggregates import _LEVEL_TIME_COLUMN
from soc_platform.hot.load import Loading
from soc_platform.hot.policy import GEO_1M, Dialect
from soc_platform.hot.schema import partition_name


@dataclass(frozen=True)
class MaintenanceReport:
    dialect: str
    partitions_created: list[str] = field(default_factory=list)
    partitions_dropped: list[str] = field(default_factory=list)
    aggregate_rows_pruned: dict[str, int] = field(default_factory=dict)
    policies_changed: list[str] = field(default_factory=list)
    failed_jobs: list[str] = field(default_factory=list)


class Maintenance(Loading):
    """Retention and dialect upkeep."""

    def maintain(self, today: date | None = None) -> MaintenanceReport:
        """The daily upkeep. Plain PostgreSQL: create the coming days' partitions, detach
        and drop those past retention, prune summary rows past their own retention.
        TimescaleDB: re-assert the policies (its job scheduler compresses, drops chunks
        and prunes aggregates) and report policy jobs whose last run failed."""
        today = today or datetime.now(UTC).date()
        if self.ensure_setup() is Dialect.TIMESCALE:
            with self.connect(autocommit=True) as conn:
                changed = self._apply_policies(conn)
                failed = [
                    f"job {r[0]} {r[1]} on {r[2]}: {r[3]} ({r[4]} failures in all)"
                    for r in conn.execute(sql.query("failed_jobs"))
                ]
            return MaintenanceReport(
                self.dialect.value, policies_changed=changed, failed_jobs=failed
            )
        ahead = [today + timedelta(days=i) for i in range(self.policy.partitions_ahead + 1)]
        created = self.ensure_day_partitions(ahead)
        dropped: list[str] = []
        first = self.policy.first_retained_day(today)
        with self.connect(autocommit=True) as conn:
            if first is not None:
                oldest = partition_name(first)
                attached = {r[0] for r in conn.execute(sql.query("list_day_partitions"))}
                # detached by an earlier run that then failed to drop them
                leftovers = {r[0] for r in conn.execute(sql.query("list_detached_partitions"))}
                for name in sorted(attached | leftovers):
                    if not (name.startswith("waf_events_p") and name < oldest):
                        continue
                    ident = pgsql.Identifier(name)
                    if name in attached:
                        # CONCURRENTLY: readers and loads of other days are not blocked
                        conn.execute(sql.query("detach_partition").format(partition=ident))
                    conn.execute(sql.query("drop_table").format(table=ident))
                    dropped.append(name)
            pruned = {}
            if first is not None:
                # per-IP day counts only serve days that can still receive events
                cur = conn.execute(
                    sql.query("prune_aggregate").format(
                        table=pgsql.Identifier("waf_events_daily_ips"),
                        column=pgsql.Identifier("day"),
                    ),
                    {"before": day_start(first)},
                )
                pruned["waf_events_daily_ips"] = cur.rowcount
            minute_days = dict(self.policy.agg_retention_days)["waf_events_1m"]
            for level, days in (*self.policy.agg_retention_days, (GEO_1M, minute_days)):
                if not days or first is None:
                    continue  # kept forever, or raw events are (re-summarising needs them)
                before = min(today - timedelta(days=days), first)
                cur = conn.execute(
                    sql.query("prune_aggregate").format(
                        table=pgsql.Identifier(level),
                        column=pgsql.Identifier(_LEVEL_TIME_COLUMN[level]),
                    ),
                    {"before": day_start(before)},
                )
                pruned[level] = cur.rowcount
        return MaintenanceReport(
            self.dialect.value,
            partitions_created=created,
            partitions_dropped=dropped,
            aggregate_rows_pruned=pruned,
        )
