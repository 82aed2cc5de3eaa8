"""The repository's production dagster.yaml works against a real PostgreSQL."""

import shutil
import uuid
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from psycopg import sql

from soc_platform.stores.pgserver import DB_USER, EmbeddedPostgres

REPO = Path(__file__).resolve().parents[2]


def test_production_dagster_yaml_uses_postgres_storage(
    pg_cluster: EmbeddedPostgres, work_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = f"dagster_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    home = work_dir / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_USERNAME", DB_USER)
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", pg_cluster.password_file.read_text().strip())
    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(pg_cluster.port))
    monkeypatch.setenv("DAGSTER_PG_DB", db)
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"

        @dg.op
        def ping() -> int:
            return 1

        @dg.job
        def smoke() -> None:
            ping()

        assert smoke.execute_in_process(instance=instance).success
        assert len(instance.get_runs()) == 1
