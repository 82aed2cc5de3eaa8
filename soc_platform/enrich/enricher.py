"""The enrichment step as the micro-batch runs it: the deployment's IP databases and
asset-criticality map, opened once per run, applied to each batch of parsed events."""

from pathlib import Path
from types import TracebackType

import pyarrow as pa

from soc_platform.correlation.assets_map import AssetCriticality
from soc_platform.enrich.events import enrich_events
from soc_platform.enrich.mmdb import MmdbLookup, open_ip_lookup


class Enricher:
    """``enricher(events)``: the events with the enrichment columns filled."""

    def __init__(self, ips: MmdbLookup | None, assets: AssetCriticality | None) -> None:
        self.ips = ips
        self.assets = assets

    def __call__(self, events: pa.Table) -> pa.Table:
        return enrich_events(events, self.ips, self.assets)

    def close(self) -> None:
        if self.ips is not None:
            self.ips.close()

    def __enter__(self) -> "Enricher":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_enricher(
    asn_db: Path | str | None,
    country_db: Path | str | None,
    data_dir: Path,
    assets: AssetCriticality | None,
) -> Enricher:
    """The databases named as in :func:`.mmdb.open_ip_lookup`, and the asset map.

    Raises:
        ConfigurationError: a configured database is not a readable MMDB file.
    """
    return Enricher(open_ip_lookup(asn_db, country_db, data_dir), assets)
