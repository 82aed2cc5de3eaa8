"""Enrichment: what the events do not say about themselves, added in bulk.

* :mod:`.events` (pure): fills ``source_as_number``, ``source_as_org``, ``source_country``
  and ``host_criticality`` on an Arrow table of events, one lookup per distinct client IP
  and per distinct host;
* :mod:`.records` (pure): the address rules and the record layouts of the MMDB databases
  (GeoLite2, DB-IP, IPinfo Lite, flat ``country_code`` files);
* :mod:`.mmdb` (file I/O): the reader over MMDB files, and the embedded DB-IP Lite
  databases (``soc_platform/data/ipdb/``).
"""

from soc_platform.enrich.events import ENRICHMENT_FIELDS, IpLookup, enrich_events
from soc_platform.enrich.records import IpInfo

__all__ = ["ENRICHMENT_FIELDS", "IpInfo", "IpLookup", "enrich_events"]
