"""`membank` processes on PostgreSQL when it goes down mid-job, and on a database whose schema is not the one
this MemBank made: the processes survive an outage and finish the job once it is back; a corrupt schema stops
`membank serve` and `membank migrate` with one line saying what is wrong."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from membank.storage.sql.schema import head_revision
from membank.storage.sql.store import SqlRecordStore
from tests.e2e.conftest import all_contents, free_port, run_cli
from tests.support.postgres import PostgresServer, start_postgres

pytestmark = pytest.mark.e2e

PASSWORD = "Pw-never-logged-51d0e2"
BATCH = 1500


def _url(server: PostgresServer, database: str) -> str:
    return f"postgresql://postgres:{PASSWORD}@{server.host}:{server.port}/{database}"


def _migrated_database(server: PostgresServer) -> str:
    name = server.create_database()
    store = SqlRecordStore.postgres(server.url(name))
    try:
        store.migrate()
    finally:
        store.close()
    return name


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A cluster of this test's own, to stop and start again."""
    with start_postgres() as server:
        yield server


def test_postgres_down_mid_batch_leaves_server_and_worker_running_and_the_job_completes_once(
    own_postgres: PostgresServer, launch: Callable[..., Any]
) -> None:
    settings = {
        "MEMBANK_STORE": "postgres",
        "MEMBANK_DATABASE_URL": _url(own_postgres, _migrated_database(own_postgres)),
        "MEMBANK_BATCH_CHUNK_SIZE": "50",
        "MEMBANK_JOB_LEASE_SECONDS": "2",
        "MEMBANK_DATABASE_POOL_TIMEOUT_SECONDS": "2",
    }
    server = launch(extra=["--no-workers"], **settings)
    worker = launch("worker", **settings)
    job = server.client.post(
        "/api/v1/memories/batch",
        json={"memories": [{"user_id": "bulk", "content": f"Bulk item number {i}"} for i in range(BATCH)]},
    ).json()["data"]
    _wait_until_started(server, job["id"])

    own_postgres.stop()
    time.sleep(3)  # the worker's chunk writes, claims and lease renewals fail meanwhile
    assert worker.proc.poll() is None, worker.output()[-3000:]
    assert server.proc.poll() is None, server.output()[-3000:]
    down = server.client.get(f"/api/v1/jobs/{job['id']}")
    assert down.status_code == 503 and down.json()["error"]["code"] == "BACKEND_UNAVAILABLE"
    assert server.client.get("/health/ready").status_code == 503
    assert server.client.get("/health/live").status_code == 200

    own_postgres.restart()
    finished = server.wait_job(job["id"])
    assert finished["status"] == "completed", finished
    assert finished["result"]["created"] == BATCH
    contents = all_contents(server, "bulk")
    assert sorted(contents) == sorted(f"Bulk item number {i}" for i in range(BATCH))
    assert worker.proc.poll() is None and server.proc.poll() is None
    worker_log, server_log = worker.output(), server.output()
    assert "worker_store_unavailable" in worker_log
    for log in (worker_log, server_log):
        assert PASSWORD not in log
        assert "Traceback" not in log


def _wait_until_started(server: Any, job_id: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = server.client.get(f"/api/v1/jobs/{job_id}").json()["data"]
        if 0 < state["progress"]["done"] < BATCH:
            return
        assert state["status"] != "completed", "the batch finished before PostgreSQL could be stopped"
        time.sleep(0.02)
    raise AssertionError("the batch never started")


CORRUPTIONS = {
    "unknown revision": (
        "UPDATE alembic_version SET version_num = '0099_future'",
        "the database schema is at revision '0099_future', which this MemBank does not know",
    ),
    "dropped column": (
        "ALTER TABLE memories DROP COLUMN importance",
        "was changed by hand: table memories has no column importance",
    ),
    "dropped table": ("DROP TABLE outbox", "was changed by hand: table outbox is missing"),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_corrupt_schema_stops_serve_and_migrate_with_one_line(
    corruption: str, postgres_server: PostgresServer, env: dict[str, str]
) -> None:
    statement, expected = CORRUPTIONS[corruption]
    database = _migrated_database(postgres_server)
    try:
        with postgres_server.connect(database) as conn:
            conn.execute(statement)
        env.update({"MEMBANK_STORE": "postgres", "MEMBANK_DATABASE_URL": _url(postgres_server, database)})
        for command in (["migrate"], ["serve", "--no-workers", "--port", str(free_port())]):
            result = run_cli(env, *command, check=False)
            assert result.returncode == 1, (command, result.stdout, result.stderr)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, (command, result.stderr)
            assert lines[0].startswith("Error: ") and expected in lines[0], (command, lines[0])
            assert PASSWORD not in result.stdout + result.stderr
        with postgres_server.connect(database) as conn:
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        unchanged = "0099_future" if corruption == "unknown revision" else head_revision()
        assert revision is not None and revision[0] == unchanged
    finally:
        postgres_server.drop_database(database)
