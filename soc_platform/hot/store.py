"""The hot store: PostgreSQL (plain, day-partitioned) or TimescaleDB (hypertable).

The dialect is detected once per store (``setup``); every query that reads the hot store
is the same for both. :class:`HotStore` is composed of one class per concern:

* ``hot.connection.HotBase``: connections (times in UTC), the day locks;
* ``hot.schema.Schema``: migrations, dialect, TimescaleDB policies, day partitions;
* ``hot.aggregates.Aggregates``: aggregate refreshes, counts and summaries;
* ``hot.load.Loading``: COPY of events, atomic day rewrites;
* ``hot.maintenance.Maintenance``: retention and dialect upkeep;
* ``incidents.tables.IncidentTables``: rule queries, incidents, shadow incidents.
"""

from soc_platform.hot.load import LoadResult
from soc_platform.hot.maintenance import Maintenance, MaintenanceReport
from soc_platform.hot.policy import AGGREGATES, GEO_1M, Dialect, HotPolicy
from soc_platform.incidents.tables import IncidentTables, UpsertResult

__all__ = [
    "AGGREGATES",
    "GEO_1M",
    "Dialect",
    "HotPolicy",
    "HotStore",
    "LoadResult",
    "MaintenanceReport",
    "UpsertResult",
]


class HotStore(Maintenance, IncidentTables):
    """Typed access to the hot tables, their aggregates and the incidents table."""
