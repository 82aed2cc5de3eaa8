"""The hot store's connection: how it connects (times in UTC, a shared reader connection),
the day locks, and the dialect found by :meth:`~soc_platform.hot.schema.Schema.setup`.

The hot store is composed of one class per concern, each a subclass of :class:`HotBase`:
schema and policies (``schema``), aggregates (``aggregates``), loading (``load``),
maintenance (``maintenance``), and the rule queries and incident tables
(``soc_platform.incidents.tables``); :class:`~soc_platform.hot.store.HotStore` is all of them.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any, Self

import psycopg
from psycopg.adapt import Buffer
from psycopg.rows import dict_row
from psycopg.types.datetime import TimestamptzBinaryLoader, TimestamptzLoader

from soc_platform import sql
from soc_platform.errors import HotStoreError
from soc_platform.hot.policy import Dialect, HotPolicy
from soc_platform.redact import redact_text, secrets_of


class _UtcTimestamptzLoader(TimestamptzLoader):
    def load(self, data: Buffer) -> datetime:
        return super().load(data).astimezone(UTC)


class _UtcTimestamptzBinaryLoader(TimestamptzBinaryLoader):
    def load(self, data: Buffer) -> datetime:
        return super().load(data).astimezone(UTC)


def _times_in_utc(conn: psycopg.Connection[Any]) -> None:
    """Make ``conn`` return timestamptz values in UTC whatever the session's time zone.

    The hot store asks for TimeZone=UTC at connect (a startup option), but a server or
    pooler may ignore startup options (PgBouncer with ``ignore_startup_parameters =
    options``; PGlite). psycopg returns times in the session's zone, and day arithmetic
    on them (runs end at midnight UTC) would then follow that zone's midnight. Only then
    are these (pure Python, slower) loaders registered; the SQL names UTC itself.
    """
    if conn.info.parameter_status("TimeZone") in ("UTC", "Etc/UTC"):
        return
    conn.adapters.register_loader("timestamptz", _UtcTimestamptzLoader)
    conn.adapters.register_loader("timestamptz", _UtcTimestamptzBinaryLoader)


class HotBase:
    """A hot store's connection settings and policy (see :class:`HotStore`)."""

    def __init__(
        self,
        dsn: str,
        connect_timeout: int = 10,
        policy: HotPolicy | None = None,
        *,
        prepare_threshold: int | None = 5,
    ) -> None:
        """``prepare_threshold``: psycopg's (executions of a query before it is prepared
        server-side; None never prepares). Servers whose connections share one session
        (PGlite, a transaction-mode pooler before PgBouncer 1.21) need None."""
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self.policy = policy or HotPolicy()
        self.prepare_threshold = prepare_threshold
        self._dialect: Dialect | None = None
        self._reader: psycopg.Connection[Any] | None = None

    def clone(self) -> Self:
        """The same store for another thread (connections are not shared across threads)."""
        other = type(self)(
            self.dsn, self.connect_timeout, self.policy, prepare_threshold=self.prepare_threshold
        )
        other._dialect = self._dialect
        return other

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Share one autocommit connection among the rule queries run inside (an evaluation
        runs hundreds of short queries: a connection each would cost more than the queries)."""
        if self._reader is not None:
            yield
            return
        with self.connect(autocommit=True) as conn:
            self._reader = conn
            try:
                yield
            finally:
                self._reader = None

    @contextmanager
    def connect(self, autocommit: bool = False) -> Iterator[psycopg.Connection[Any]]:
        try:
            conn = psycopg.connect(
                self.dsn,
                autocommit=autocommit,
                connect_timeout=self.connect_timeout,
                options="-c TimeZone=UTC",  # day buckets and returned times in UTC
                prepare_threshold=self.prepare_threshold,
            )
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            first = redact_text(first, secrets_of(self.dsn))
            raise HotStoreError(
                f"cannot connect to the hot store PostgreSQL: {first} "
                "(check SOC_PG_DSN, or unset it to use the embedded server)"
            ) from exc
        try:
            _times_in_utc(conn)
            with conn:
                yield conn
        finally:
            conn.close()

    @property
    def dialect(self) -> Dialect:
        """The dialect :meth:`setup` found (an error before it ran: the store's operations
        call :meth:`ensure_setup` themselves)."""
        if self._dialect is None:
            raise HotStoreError("the hot store is not set up yet: call setup() first")
        return self._dialect

    def run_query(self, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run the named query file and return its rows as dicts."""
        with self.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.query(name), params)
            return list(cur.fetchall())

    @staticmethod
    def _lock_days(conn: psycopg.Connection[Any], days: Sequence[date]) -> None:
        for day in sorted(set(days)):
            conn.execute(sql.query("lock_day"), {"day": day})
