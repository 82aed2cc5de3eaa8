"""MMDB files read with ``maxminddb`` (C extension when installed: ``MODE_AUTO``), and the
embedded DB-IP Lite databases decompressed once into the data directory."""

import gzip
import hashlib
import json
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import maxminddb

from soc_platform.enrich.records import NOTHING, IpInfo, as_of, country_of, lookup_key
from soc_platform.errors import ConfigurationError
from soc_platform.settings import GEOIP_OFF, Settings

_EMBEDDED = resources.files("soc_platform").joinpath("data", "ipdb")
EMBEDDED_ASN = "dbip-asn-lite"
EMBEDDED_COUNTRY = "dbip-country-lite"


class MmdbLookup:
    """ASN and country of an address from one or two MMDB files (the same file may serve
    both, as IPinfo Lite's does).

    ``asn_global_only`` / ``country_global_only``: ask that database about public
    addresses only (see ``records.lookup_address``); on for the embedded public databases,
    off for databases an operator configures, which may map their own private networks.
    """

    def __init__(
        self,
        asn_path: Path | None,
        country_path: Path | None,
        *,
        asn_global_only: bool = True,
        country_global_only: bool = True,
        names: tuple[str, str] = ("ASN database", "country database"),
    ) -> None:
        self.asn_global_only = asn_global_only
        self.country_global_only = country_global_only
        opened: dict[Path, maxminddb.Reader] = {}
        self._asn = _open(asn_path, names[0], opened)
        self._country = _open(country_path, names[1], opened)
        self._readers = list(opened.values())

    def lookup(self, ip: str) -> IpInfo:
        key = lookup_key(ip)
        if key is None:
            return NOTHING
        address, public = key
        asn_record: Any = None
        if self._asn is not None and (public or not self.asn_global_only):
            asn_record = self._asn.get(address)
        number, org = as_of(asn_record)
        if self._country is None or (self.country_global_only and not public):
            return IpInfo(number, org, None)
        record: Any = asn_record if self._country is self._asn else self._country.get(address)
        return IpInfo(number, org, country_of(record))

    def close(self) -> None:
        for reader in self._readers:
            reader.close()

    def __enter__(self) -> "MmdbLookup":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open(
    path: Path | None, name: str, opened: dict[Path, maxminddb.Reader]
) -> maxminddb.Reader | None:
    if path is None:
        return None
    if path not in opened:
        try:
            opened[path] = maxminddb.open_database(str(path))  # MODE_AUTO: the C reader
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"{name} {path}: cannot be read ({exc})") from None
        except maxminddb.InvalidDatabaseError as exc:
            raise ConfigurationError(
                f"{name} {path}: not a MaxMind DB (MMDB) file ({exc})"
            ) from None
    return opened[path]


def embedded_database(name: str, data_dir: Path) -> Path:
    """The embedded database ``name`` as a plain MMDB file under ``data_dir/ipdb``,
    decompressed (and its sha256 checked) on first use. The file name carries the sha256,
    so a refreshed database is decompressed again; concurrent first uses are safe (each
    writes its own temporary file and renames it into place)."""
    manifest = json.loads(_EMBEDDED.joinpath("MANIFEST.json").read_text())
    (entry,) = [d for d in manifest["databases"] if d["file"] == f"{name}.mmdb.gz"]
    target = data_dir / "ipdb" / f"{name}-{entry['sha256'][:16]}.mmdb"
    if target.is_file():
        return target
    raw = gzip.decompress(_EMBEDDED.joinpath(entry["file"]).read_bytes())
    if hashlib.sha256(raw).hexdigest() != entry["sha256"]:
        raise ConfigurationError(
            f"embedded IP database {entry['file']} does not match its MANIFEST sha256: "
            "reinstall soc-platform"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def open_ip_lookup(
    asn: Path | str | None, country: Path | str | None, data_dir: Path
) -> MmdbLookup | None:
    """The IP databases a deployment names (``SOC_GEOIP_ASN_DB``, ``SOC_GEOIP_COUNTRY_DB``:
    a path; None, unset: the embedded DB-IP Lite file, decompressed under ``data_dir``;
    ``"off"``: none). None when both are off.

    Raises:
        ConfigurationError: a configured file is not a readable MMDB file.
    """
    if asn == GEOIP_OFF and country == GEOIP_OFF:
        return None

    def path(value: Path | str | None, name: str) -> Path | None:
        if value == GEOIP_OFF:
            return None
        return embedded_database(name, data_dir) if value is None else Path(value)

    return MmdbLookup(
        path(asn, EMBEDDED_ASN),
        path(country, EMBEDDED_COUNTRY),
        # an operator's own database may map private networks; the public ones may not
        asn_global_only=asn is None,
        country_global_only=country is None,
        names=("SOC_GEOIP_ASN_DB", "SOC_GEOIP_COUNTRY_DB"),
    )


def lookup_of(settings: Settings) -> MmdbLookup | None:
    """:func:`open_ip_lookup` with the databases ``settings`` name."""
    return open_ip_lookup(settings.geoip_asn_db, settings.geoip_country_db, settings.data_dir)
