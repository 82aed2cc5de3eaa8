"""Outages in the middle of a run, as a user meets them: one line on stderr saying where the
run stopped, why, what it had stored (checked against the stores) and what to do; exit
status 1; the traceback only with SOC_DEBUG=1. A second run completes the first."""

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from soc_platform.hot.embedded import EmbeddedPostgres, free_port
from soc_platform.lake.iceberg import RAW_EVENTS, Lake, LakeConfig
from tests.helpers import clean_environ

CLI = [sys.executable, "-m", "soc_platform.cli"]


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The single error line of a failed command (exit status 1, no traceback)."""
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("soc-platform: error: "), proc.stderr
    return proc.stderr.strip()


@pytest.fixture
def env(work_dir: Path, pg_dsn: str) -> dict[str, str]:
    keep = clean_environ()
    return {
        **keep,
        "SOC_DATA_DIR": str(work_dir / "data"),
        "SOC_PG_DSN": pg_dsn,
        "PYTHONWARNINGS": "ignore",
    }


def lake_rows(lake: Lake) -> int:
    return lake.table(RAW_EVENTS).scan(selected_fields=("event_id",)).to_arrow().num_rows


def hot_counts(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT count(*) FROM waf_events").fetchone()
        incidents = conn.execute("SELECT count(*) FROM incidents").fetchone()
    assert rows and incidents
    return int(rows[0]), int(incidents[0])


def backlog(dsn: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT incident_id, op FROM search_backlog ORDER BY 1").fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def incident_ids(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [str(r[0]) for r in conn.execute("SELECT id FROM incidents ORDER BY 1")]


def backlog_check(data: Path, run_id: str) -> Any:
    """The search_backlog_empty evaluation the run recorded in its Dagster instance."""
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.from_config(str(data / "dagster")) as instance:
        found = [
            e.dagster_event.asset_check_evaluation_data
            for e in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
            if e.dagster_event
            and e.dagster_event.asset_check_evaluation_data.check_name == "search_backlog_empty"
        ]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.timeout(600)
def test_meilisearch_down_mid_run(env: dict[str, str], pg_dsn: str) -> None:
    """Meilisearch unreachable (a closed port: a real connection refused) after lake, hot
    store and correlation did their part: the incidents table is the system of record, so
    the run completes (exit 0), says in one line that indexing is pending, retires its
    files, and the search backlog keeps what Meilisearch still needs."""
    data = Path(env["SOC_DATA_DIR"])
    landing = data / "landing"
    closed = free_port()
    down = {**env, "MEILI_URL": f"http://127.0.0.1:{closed}"}
    assert cli(env, "generate", "--out", str(landing), "--events", "900").returncode == 0

    run = cli(down, "run")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    hot_rows, incidents = hot_counts(pg_dsn)
    pending = (
        f"search indexing pending: {incidents} incidents (Meilisearch at "
        f"http://127.0.0.1:{closed} unreachable (connection refused)); the next run or "
        "`soc-platform search reindex` catches up"
    )
    assert f"  {pending}\n" in run.stdout, run.stdout  # the run's summary
    assert run.stderr == f"soc-platform: warning: index_incidents: {pending}\n", run.stderr
    lake = Lake(
        LakeConfig(
            catalog_uri=f"sqlite:///{data / 'lake' / 'catalog.db'}",
            warehouse=(data / "lake" / "warehouse").as_uri(),
        )
    )
    # everything is stored, the landing files are retired, the backlog holds every incident
    assert lake_rows(lake) == hot_rows == 900 and incidents > 0
    assert [p.name for p in landing.iterdir() if not p.name.startswith("_")] == []
    ids = incident_ids(pg_dsn)
    assert backlog(pg_dsn) == [(i, "upsert") for i in ids]
    run_id = re.search(r"^run ([0-9a-f-]{36})$", run.stdout, re.M)
    assert run_id, run.stdout
    check = backlog_check(data, run_id[1])
    assert not check.passed and check.severity.value == "WARN"
    assert check.description.startswith(f"{incidents} incident(s) wait for the search backend")

    # a second batch with the backend still down: the backlog grows, no entry twice
    more = ["generate", "--out", str(landing), "--events", "300", "--seed", "7"]
    assert cli(env, *more).returncode == 0
    again = cli(down, "run", "--json")
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    _, incidents = hot_counts(pg_dsn)
    assert summary["search_pending"] == incidents
    assert summary["search_pending_line"].startswith(f"search indexing pending: {incidents} ")
    ids = incident_ids(pg_dsn)
    assert backlog(pg_dsn) == [(i, "upsert") for i in ids]

    # an analyst's change commits; sending it now fails, said in one warning line
    note = cli(down, "incident", "note", "phished via vendor portal", ids[0], "--actor", "al")
    assert note.returncode == 0, note.stderr
    assert note.stderr == (
        f"soc-platform: warning: search indexing pending: {incidents} incidents (Meilisearch "
        f"at http://127.0.0.1:{closed} unreachable (connection refused)); the next run or "
        "`soc-platform search reindex` catches up\n"
    )
    assert backlog(pg_dsn) == [(i, "upsert") for i in ids]

    # reindex with the backend still down: one line, exit status 2, the backlog kept
    reindex = cli(down, "search", "reindex")
    assert reindex.returncode == 2 and "Traceback" not in reindex.stderr, reindex.stderr
    assert reindex.stderr == (
        f"soc-platform: error: Meilisearch at http://127.0.0.1:{closed} unreachable "
        "(connection refused)\n"
    )
    assert backlog(pg_dsn) == [(i, "upsert") for i in ids]

    today = datetime.now(UTC).date().isoformat()
    line = one_line(cli(down, "backfill", "--start", today, "--end", today))
    assert f"backfill {today} .. {today} (run " in line
    assert f"stopped at search__incident_index: Meilisearch at http://127.0.0.1:{closed} " in line
    assert "Not rebuilt: the search index." in line and "Rebuilt: " in line
    assert {i for i, _ in backlog(pg_dsn)} == set(incident_ids(pg_dsn))

    # once the index is back (here: the embedded one, whose index is the incidents table),
    # reindex catches up: nothing waits
    back = cli(env, "search", "reindex", "--json")
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["pending"] == 0
    assert backlog(pg_dsn) == []
    found = cli(env, "search", "vendr portal", "--json")
    assert [h["id"] for h in json.loads(found.stdout)["hits"]] == [ids[0]]


def test_postgresql_down_between_steps(
    env: dict[str, str], pg_cluster: EmbeddedPostgres, work_dir: Path
) -> None:
    """The hot store's server stops right after the lake append commits: the catalog
    database (on another server) runs ``pg_ctl stop`` on the hot store's cluster from a
    trigger on the Iceberg catalog's commit of raw_waf_events, so the outage falls
    exactly between the ingest step and the hot load."""
    hot = EmbeddedPostgres(work_dir / "hotpg", free_port(), server_options=["-c fsync=off"])
    hot_dsn = hot.start()
    catalog_db = f"cat_{work_dir.name}"
    with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(catalog_db)))
    catalog = pg_cluster.dsn(catalog_db).replace("postgresql://", "postgresql+psycopg2://", 1)
    config = LakeConfig(catalog_uri=catalog, warehouse=(work_dir / "warehouse").as_uri())
    Lake(config).ensure_tables()
    stop = f"{hot.bin_dir / 'pg_ctl'} stop -D {hot.pgdata} -m immediate -w"
    with psycopg.connect(pg_cluster.dsn(catalog_db), autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "CREATE FUNCTION stop_hot_store() RETURNS trigger LANGUAGE plpgsql AS $f$ "
                "BEGIN EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', {}); RETURN NEW; END $f$"
            ).format(sql.Literal(stop))
        )
        conn.execute(
            "CREATE TRIGGER outage AFTER UPDATE ON iceberg_tables FOR EACH ROW "
            "WHEN (NEW.table_name = 'raw_waf_events') EXECUTE FUNCTION stop_hot_store()"
        )
    env = {**env, "SOC_PG_DSN": hot_dsn, "SOC_LAKE_CATALOG_URI": catalog}
    env["SOC_LAKE_WAREHOUSE"] = config.warehouse
    data = Path(env["SOC_DATA_DIR"])
    try:
        assert (
            cli(env, "generate", "--out", str(data / "landing"), "--events", "500").returncode == 0
        )
        line = one_line(cli(env, "run"))
        assert not hot.state().running  # the outage happened
        assert " stopped at load_hot_store: cannot connect to the hot store PostgreSQL: " in line
        assert "Connection refused" in line
        assert (
            "Stored: 500 events in the lake. "
            "Not stored: the hot store, the incidents, the search index. "
            "The landing files stay: run again, or the sensor retries them after a backoff"
        ) in line
        assert lake_rows(Lake(config)) == 500

        # the server is back: the same files again complete the batch
        with psycopg.connect(pg_cluster.dsn(catalog_db), autocommit=True) as conn:
            conn.execute("DROP TRIGGER outage ON iceberg_tables")
        hot.start()
        again = cli(env, "run")
        assert again.returncode == 0, again.stderr
        assert hot_counts(hot_dsn)[0] == 500
    finally:
        hot.stop()
        with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(catalog_db)
                )
            )


def test_retro_hunt_with_the_hot_store_down(env: dict[str, str]) -> None:
    closed = free_port()
    today = datetime.now(UTC).date().isoformat()
    proc = cli(
        {**env, "SOC_PG_DSN": f"postgresql://soc:x@127.0.0.1:{closed}/soc"},
        "rules", "hunt", "--start", today, "--end", today,
    )  # fmt: skip
    line = one_line(proc)
    assert f"retro-hunt {today} .. {today} (run " in line
    assert "stopped at detection__retro_hunt: cannot connect to the hot store PostgreSQL" in line
