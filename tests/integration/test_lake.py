"""The Iceberg lake: a real SqlCatalog and warehouse (local, and S3 through moto's server)."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.transforms import DayTransform

from soc_platform.flow import steps
from soc_platform.lake.iceberg import DEAD_LETTER, RAW_EVENTS, Lake, LakeConfig
from soc_platform.models import LAKE_EVENT_SCHEMA
from soc_platform.parsing import get_parser, split_lines
from tests.helpers import to_jsonl, waf_event

T0 = datetime(2026, 3, 10, 23, 59, 0, tzinfo=UTC)


def events_of(lines: str, source: str = "a.jsonl") -> tuple[pa.Table, pa.Table]:
    result = get_parser("waf_json")(split_lines(lines.encode()), source, datetime.now(UTC))
    return result.events, result.dead_letters


def test_tables_are_day_partitioned_and_ensure_is_idempotent(lake: Lake) -> None:
    lake.ensure_tables()
    raw = lake.table(RAW_EVENTS)
    (field,) = raw.spec().fields
    assert isinstance(field.transform, DayTransform)
    assert raw.schema().find_field(field.source_id).name == "event_time"
    assert raw.schema().as_arrow().names == LAKE_EVENT_SCHEMA.names


def test_append_is_idempotent_across_files_and_days(lake: Lake) -> None:
    lines = to_jsonl([waf_event(T0), waf_event(T0 + timedelta(minutes=2)), waf_event(T0)])
    events, _ = events_of(lines)
    first = lake.append_events(events)
    assert (first.appended, first.duplicates) == (2, 1)  # the same event twice in one batch
    copy, _ = events_of(lines, source="copy-of-a.jsonl")
    second = lake.append_events(copy)
    assert (second.appended, second.duplicates) == (0, 3)
    both_days = lake.read_events(T0.date(), T0.date() + timedelta(days=1))
    assert both_days.num_rows == 2
    assert lake.read_events(T0.date(), T0.date()).num_rows == 1
    assert sorted(both_days["raw"].to_pylist()) == sorted(lines.splitlines()[:2])


def test_raw_line_is_kept_verbatim(lake: Lake) -> None:
    line = (
        '{"timestamp":"2026-03-10T10:00:00+02:00","client_ip":"198.51.100.4","host":"H",'
        '"request_method":"get","request_uri":"/x","status_code":200,"extra":{"k":[1,2]}}'
    )
    events, _ = events_of(line + "\n")
    lake.append_events(events)
    stored = lake.read_events(date(2026, 3, 10), date(2026, 3, 10))
    assert stored["raw"].to_pylist() == [line]
    assert stored["event_time"][0].as_py() == datetime(2026, 3, 10, 8, tzinfo=UTC)


def test_dead_letters_keep_line_source_offset_reason(lake: Lake) -> None:
    lines = to_jsonl([waf_event(T0)]) + "{oops\n" + '{"client_ip":"1.2.3.4"}\n'
    _, dead = events_of(lines, source="bad.jsonl")
    assert lake.append_dead_letters(dead).appended == 2
    assert lake.append_dead_letters(dead).appended == 0  # re-reading the file adds nothing
    stored = lake.table(DEAD_LETTER).scan().to_arrow().sort_by("source_offset")
    assert stored.select(["raw", "source_file", "source_offset", "reason"]).to_pylist() == [
        {"raw": "{oops", "source_file": "bad.jsonl", "source_offset": 1, "reason": "invalid_json"},
        {
            "raw": '{"client_ip":"1.2.3.4"}',
            "source_file": "bad.jsonl",
            "source_offset": 2,
            "reason": "missing_field",
        },
    ]


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    from soc_platform.hot.embedded import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_s3_warehouse_through_moto(s3_endpoint: str, work_dir: Path) -> None:
    import boto3

    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    ).create_bucket(Bucket="lake")
    lake = Lake(
        LakeConfig(
            catalog_uri=f"sqlite:///{work_dir / 'catalog.db'}",
            warehouse="s3://lake/warehouse",
            s3_endpoint=s3_endpoint,
            s3_access_key_id="test",
            s3_secret_access_key="test",
            s3_region="us-east-1",
        )
    )
    paths = []
    for i in range(2):
        path = work_dir / f"in{i}.jsonl"
        path.write_text(to_jsonl([waf_event(T0 + timedelta(seconds=i)), waf_event(T0)]))
        paths.append(str(path))
    report = steps.ingest_files(lake, paths)
    assert (report.appended, report.duplicates) == (2, 2)
    assert lake.read_events(T0.date(), T0.date()).num_rows == 2
    files = lake.table(RAW_EVENTS).inspect.files().to_pylist()
    assert files and all(f["file_path"].startswith("s3://lake/warehouse/") for f in files)


def test_catalog_in_postgresql(pg_dsn: str, work_dir: Path) -> None:
    """The production catalog: SqlCatalog on PostgreSQL (via SQLAlchemy + psycopg2)."""
    uri = pg_dsn.replace("postgresql://", "postgresql+psycopg2://", 1)
    lake = Lake(LakeConfig(catalog_uri=uri, warehouse=(work_dir / "wh").as_uri()))
    lake.ensure_tables()
    lake.ensure_tables()
    events, _ = events_of(to_jsonl([waf_event(T0)]))
    assert lake.append_events(events).appended == 1
    assert lake.append_events(events).appended == 0
    import psycopg

    with psycopg.connect(pg_dsn) as conn:
        tables = conn.execute(
            "SELECT table_name FROM iceberg_tables ORDER BY table_name"
        ).fetchall()
    assert tables == [("dead_letter",), ("raw_waf_events",)]


def test_truncated_gzip_and_vanished_files_do_not_fail_the_batch(
    lake: Lake, work_dir: Path
) -> None:
    import gzip

    good = work_dir / "good.jsonl"
    good.write_text(to_jsonl([waf_event(T0)]))
    full = gzip.compress(
        to_jsonl([waf_event(T0 + timedelta(seconds=i + 1)) for i in range(2000)]).encode()
    )
    truncated = work_dir / "cut.jsonl.gz"
    truncated.write_bytes(full[: len(full) // 2])
    gone = str(work_dir / "gone.jsonl")
    report = steps.ingest_files(lake, [str(good), str(truncated), gone])
    assert set(report.files_failed) == {str(truncated), gone}
    assert "EOFError" in report.files_failed[str(truncated)]
    assert "FileNotFoundError" in report.files_failed[gone]
    assert report.appended == report.parsed > 1  # the good file plus the readable part
    assert report.dead_letter_reasons == {"invalid_json": 1}  # the line cut in the middle
