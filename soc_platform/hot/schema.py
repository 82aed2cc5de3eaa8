"""The hot store's schema: migrations (sql/NNNN_*.sql), the dialect, TimescaleDB policies
and the day partitions of the plain dialect."""

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import psycopg
from psycopg import sql as pgsql

from soc_platform import sql
from soc_platform.days import day_start
from soc_platform.errors import HotStoreError
from soc_platform.hot.connection import HotBase
from soc_platform.hot.policy import GEO_1M, Dialect

MIN_PG_VERSION = 150000  # NULLS NOT DISTINCT keys on the summary tables


def partition_name(day: date) -> str:
    return f"waf_events_p{day:%Y%m%d}"


class Schema(HotBase):
    """Schema, dialect and policies."""

    def ensure_setup(self) -> Dialect:
        """The dialect, bringing the schema up to date first if this store has not yet."""
        return self._dialect if self._dialect is not None else self.setup()

    def detect_dialect(self, conn: psycopg.Connection[Any]) -> Dialect:
        installed, available = conn.execute(sql.query("detect_timescaledb")).fetchone() or (
            False,
            False,
        )
        if not installed and available:
            try:
                conn.execute(sql.query("create_timescaledb"))
                installed = True
            except psycopg.Error:
                # Packaged but not preloaded (shared_preload_libraries): plain PostgreSQL.
                installed = False
        return Dialect.TIMESCALE if installed else Dialect.PLAIN

    def setup(self, target_version: int | None = None) -> Dialect:
        """Bring the schema to ``target_version`` (default: the newest) and apply the
        configured policies. Safe to run any number of times, and concurrently.

        A database keeps the dialect its schema was created with: installing TimescaleDB
        later does not turn existing plain partitions into a hypertable.
        """
        with self.connect(autocommit=True) as conn:
            version = conn.execute(sql.query("server_version")).fetchone()
            if version and version[0] < MIN_PG_VERSION:
                raise HotStoreError(
                    f"the hot store needs PostgreSQL 15 or newer (server is {version[0]})"
                )
            fold = conn.execute(sql.query("fold_collation")).fetchone()
            if not (fold and fold[0]):
                raise HotStoreError(
                    "the hot store needs PostgreSQL 18 or newer (collation pg_unicode_fast) "
                    'or a server built with ICU (collation "und-x-icu"), or a collation '
                    '"soc_fold" the operator created: Sigma rules match text '
                    "case-insensitively for every alphabet under one of them"
                )
            conn.execute(sql.query("schema_lock"))
            conn.execute(
                sql.query("create_fold_collation").format(source=pgsql.Identifier(fold[0]))
            )
            conn.execute(sql.query("create_schema_version"))
            applied = {int(v): d for v, d in conn.execute(sql.query("schema_versions"))}
            if applied:
                dialect = Dialect(next(iter(applied.values())))
            else:
                # a database set up before versioning (or a new one): its waf_events table,
                # if any, says which dialect it was created with
                row = conn.execute(sql.query("existing_waf_events")).fetchone()
                kind = row[0] if row else None
                if kind == "p":
                    dialect = Dialect.PLAIN
                elif kind == "r":
                    dialect = Dialect.TIMESCALE
                else:
                    dialect = self.detect_dialect(conn)
            for migration in sql.migrations(dialect.value):
                if migration.version in applied:
                    continue
                if target_version is not None and migration.version > target_version:
                    break
                self._migrate(conn, dialect, migration)
            # the policies are those of the newest schema (compression is enabled by
            # 0002, the aggregates they name appear there): not for an older target
            if dialect is Dialect.TIMESCALE and (
                target_version is None or target_version >= sql.latest_version()
            ):
                self._apply_policies(conn)
        self._dialect = dialect
        return dialect

    def _migrate(
        self, conn: psycopg.Connection[Any], dialect: Dialect, migration: sql.Migration
    ) -> None:
        """Apply one migration and record it. Plain PostgreSQL: in one transaction.
        TimescaleDB: statement by statement (aggregate refreshes cannot run in a
        transaction); every statement is idempotent, so a failed migration is re-run whole.
        """
        record = {"version": migration.version, "name": migration.name, "dialect": dialect.value}

        def apply_all() -> None:
            for label, statement in migration.statements:
                try:
                    conn.execute(statement)
                except psycopg.Error as exc:
                    raise HotStoreError(
                        f"schema migration {migration.version:04d} ({migration.name}) failed "
                        f"at {label}: {exc}"
                    ) from exc
            conn.execute(sql.query("record_schema_version"), record)

        if dialect is Dialect.PLAIN:
            with conn.transaction():
                apply_all()
        else:
            apply_all()

    def schema_version(self) -> int:
        with self.connect() as conn:
            rows = conn.execute(sql.query("schema_versions")).fetchall()
        return max((int(r[0]) for r in rows), default=0)

    def _apply_policies(self, conn: psycopg.Connection[Any]) -> list[str]:
        """TimescaleDB: make the compression and retention policies match the settings.
        A policy is replaced only when its configured value changed."""
        conn.execute(sql.query("create_policy_table"))
        p = self.policy
        wanted: list[tuple[str, str, int]] = [
            ("waf_events", "compression", p.compress_after_days),
            ("waf_events", "retention", p.retention_days),
            *((name, "retention", days) for name, days in p.agg_retention_days),
            (GEO_1M, "retention", dict(p.agg_retention_days)["waf_events_1m"]),
        ]
        changed = []
        for relation, policy, days in wanted:
            setting = f"{days} days" if days else "off"
            row = conn.execute(
                sql.query("policy_applied"), {"relation": relation, "policy": policy}
            ).fetchone()
            present = conn.execute(
                sql.query("policy_job_exists"),
                {"relation": relation, "proc": f"policy_{policy}"},
            ).fetchone()
            if row and row[0] == setting and bool(present and present[0]) == bool(days):
                continue
            params = {
                "relation": pgsql.Literal(relation),
                "interval": pgsql.SQL("{}::interval").format(pgsql.Literal(setting)),
            }
            with conn.transaction():
                conn.execute(sql.query(f"remove_{policy}_policy").format(**params))
                if days:
                    conn.execute(sql.query(f"add_{policy}_policy").format(**params))
                conn.execute(
                    sql.query("record_policy"),
                    {"relation": relation, "policy": policy, "setting": setting},
                )
            changed.append(f"{relation} {policy}: {setting}")
        return changed

    def ensure_day_partitions(self, days: Sequence[date]) -> list[str]:
        """Create the native partitions of ``days`` (plain dialect; chunks are automatic);
        return the names of those created.

        Each in its own short transaction: creating a partition locks the parent table, and
        that lock must not last as long as a load.
        """
        if self.ensure_setup() is not Dialect.PLAIN or not days:
            return []
        created = []
        with self.connect(autocommit=True) as conn:
            existing = {r[0] for r in conn.execute(sql.query("list_day_partitions"))}
            for day in sorted(set(days)):
                name = partition_name(day)
                if name in existing:
                    continue
                conn.execute(
                    sql.query("create_day_partition").format(
                        partition=pgsql.Identifier(name),
                        lo=pgsql.Literal(day_start(day)),
                        hi=pgsql.Literal(day_start(day + timedelta(days=1))),
                    )
                )
                created.append(name)
        return created
