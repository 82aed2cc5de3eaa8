"""No credential is printed, logged or recorded: every password of the configuration is a
distinctive marker, the commands run as a user runs them (failing ones included), then
every output, every file of the Dagster instance and the data directory, the Iceberg
catalog database and the S3 warehouse are searched for the marker."""

import gzip
import sqlite3
import subprocess
import sys
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from soc_platform.hot.embedded import EmbeddedPostgres, free_port
from tests.helpers import clean_environ

CLI = [sys.executable, "-m", "soc_platform.cli"]


def _decoded(blob: bytes) -> list[bytes]:
    """A value as stored, and decompressed when it is zlib or gzip (Dagster compresses its
    snapshots)."""
    found = [blob]
    for unpack in (zlib.decompress, gzip.decompress):
        try:
            found.append(unpack(blob))
        except Exception:  # not compressed that way
            continue
    return found


def sqlite_hits(path: Path, marker: bytes) -> list[str]:
    hits = []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    blob = value.encode() if isinstance(value, str) else value
                    if isinstance(blob, bytes) and any(marker in b for b in _decoded(blob)):
                        hits.append(f"{path} table {table}")
    return hits


def file_hits(root: Path, marker: bytes) -> list[str]:
    """Every file under ``root``: raw bytes, decompressed bytes, and each SQLite cell."""
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if any(marker in b for b in _decoded(data)):
            hits.append(str(path))
        if data.startswith(b"SQLite format 3"):
            hits.extend(sqlite_hits(path, marker))
    return hits


def database_hits(dsn: str, marker: str) -> list[str]:
    """Every row of every table of a PostgreSQL database, as text."""
    hits = []
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        for schema, table in tables:
            query = sql.SQL("SELECT count(*) FROM {} AS t WHERE strpos(t::text, %s) > 0").format(
                sql.Identifier(schema, table)
            )
            row = conn.execute(query, [marker]).fetchone()
            if row and row[0]:
                hits.append(f"{schema}.{table}")
    return hits


def test_the_scanners_find_a_planted_marker(work_dir: Path) -> None:
    marker = b"Zq-planted-Mk"
    with sqlite3.connect(work_dir / "planted.db") as con:
        con.execute("CREATE TABLE snapshots (body BLOB)")
        con.execute("INSERT INTO snapshots VALUES (?)", [zlib.compress(b"x" + marker)])
    (work_dir / "log.gz").write_bytes(gzip.compress(marker))
    hits = file_hits(work_dir, marker)
    assert f"{work_dir / 'planted.db'} table snapshots" in hits
    assert str(work_dir / "log.gz") in hits


@pytest.fixture
def s3_port() -> Iterator[int]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield port
    finally:
        server.stop()


@pytest.mark.timeout(900)  # sixteen commands, each a fresh Python with Dagster
def test_no_credential_is_printed_logged_or_recorded(
    pg_cluster: EmbeddedPostgres, work_dir: Path, s3_port: int
) -> None:
    import boto3

    marker = f"Zq{uuid.uuid4().hex[:12]}Mk"
    role, hot_db, cat_db = (f"{p}_{uuid.uuid4().hex[:8]}" for p in ("leak", "hot", "cat"))
    with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(marker)
            )
        )
        for name in (hot_db, cat_db):
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(role)
                )
            )
    boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{s3_port}",
        aws_access_key_id="lakekey",
        aws_secret_access_key=marker,
        region_name="us-east-1",
    ).create_bucket(Bucket="lake")

    port = pg_cluster.port
    closed = free_port()  # nothing listens there: Meilisearch is down
    data, home = work_dir / "data", work_dir / "dagster"
    keep = clean_environ()
    base = {
        **keep,
        "PYTHONWARNINGS": "ignore",
        "SOC_DATA_DIR": str(data),
        "DAGSTER_HOME": str(home),
        # the DSN in key=value form, the catalog URI in URL form, the keys in the endpoint
        "SOC_PG_DSN": f"host=127.0.0.1 port={port} user={role} password={marker} dbname={hot_db}",
        "SOC_LAKE_CATALOG_URI": f"postgresql+psycopg2://{role}:{marker}@127.0.0.1:{port}/{cat_db}",
        "SOC_LAKE_WAREHOUSE": "s3://lake/warehouse",
        "SOC_S3_ENDPOINT": f"http://lakekey:{marker}@127.0.0.1:{s3_port}",
        "SOC_S3_REGION": "us-east-1",
    }
    meili = {
        **base,
        "MEILI_URL": f"http://admin:{marker}@127.0.0.1:{closed}/",
        "MEILI_API_KEY": f"key-{marker}",
    }
    outputs: list[tuple[tuple[str, ...], str]] = []

    def cli(env: dict[str, str], *args: str, status: int = 0) -> str:
        proc = subprocess.run(
            [*CLI, *args], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        outputs.append((args, proc.stdout + proc.stderr))
        assert proc.returncode == status, f"{args}: {proc.returncode}\n{proc.stdout}{proc.stderr}"
        return proc.stderr

    landing = data / "landing"
    cli(base, "generate", "--out", str(landing), "--events", "600", "--minutes", "10")
    today = datetime.now(UTC).date().isoformat()

    # Meilisearch down: the run stores lake, hot rows and incidents and retires its files;
    # indexing is pending (the search backlog keeps it), said in one redacted line
    err = cli(meili, "run")
    assert "search indexing pending: " in err and "Meilisearch at http://admin:***@" in err
    cli(meili, "incidents")
    cli(meili, "search", "blocked", status=2)
    cli(meili, "search", "reindex", status=2)
    cli(meili, "status")
    cli(meili, "status", "--json")
    err = cli(meili, "backfill", "--start", today, "--end", today, status=1)
    assert "Meilisearch" in err
    # the tracebacks too
    cli({**meili, "SOC_DEBUG": "1"}, "backfill", "--start", today, "--end", today, status=1)
    # embedded search: real runs that complete, recorded in the instance
    cli(base, "run")
    cli(base, "backfill", "--start", today, "--end", today)
    cli(base, "rules", "hunt", "--start", today, "--end", today, "--rule", "waf-sqli-burst")
    cli(base, "status")
    # stores that cannot be reached at all (with files to process: the lake is needed)
    cli(base, "generate", "--out", str(landing), "--events", "60", "--minutes", "5", "--seed", "9")
    down = f"postgresql+psycopg2://{role}:{marker}@127.0.0.1:{closed}/{cat_db}"
    err = cli({**base, "SOC_LAKE_CATALOG_URI": down}, "run", status=2)
    assert f"postgresql+psycopg2://{role}:***@127.0.0.1:{closed}" in err
    cli({**base, "SOC_PG_DSN": f"{base['SOC_PG_DSN']} port={closed}"}, "incidents", status=2)

    assert len(outputs) == 16
    leaks = [f"output of {args}" for args, text in outputs if marker in text]
    assert (home / "dagster.yaml").is_file() and any(home.rglob("*.db"))
    leaks += file_hits(home, marker.encode())
    leaks += file_hits(data, marker.encode())
    leaks += [f"catalog {t}" for t in database_hits(pg_cluster.dsn(cat_db), marker)]
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{s3_port}",
        aws_access_key_id="lakekey",
        aws_secret_access_key="any",
        region_name="us-east-1",
    )
    objects = s3.list_objects_v2(Bucket="lake").get("Contents", [])
    assert any(o["Key"].endswith(".metadata.json") for o in objects)
    for obj in objects:
        body = s3.get_object(Bucket="lake", Key=obj["Key"])["Body"].read()
        if marker.encode() in body:
            leaks.append(f"s3://lake/{obj['Key']}")
    assert not leaks, f"the password {marker} leaked into: {leaks}"
