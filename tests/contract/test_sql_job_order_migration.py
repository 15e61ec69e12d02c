"""Revision 0004 (jobs.enqueue_seq) on databases with jobs in them: a SQLite data dir of the pre-Alembic
runner keeps its queue order (rowid), a PostgreSQL database at 0003 its (created_at, id) order; new jobs
queue after them; the jobs table ends up as tables.py has it; the downgrade restores the previous shape."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, inspect, select, text

from membank.models import Job, JobStatus, from_epoch
from membank.storage.sql import tables
from membank.storage.sql.database import SqlDatabase
from membank.storage.sql.jobs import SqlJobRepository
from membank.storage.sql.store import SqlRecordStore
from tests.unit.test_sql_schema import ALL_REVISIONS

# Applied from 0004 on: this file's migration, and every one after it to head.
AFTER_0003 = ALL_REVISIONS[ALL_REVISIONS.index("0004_job_order") :]

T0 = 1_700_000_000.0
LEGACY_FILES = sorted((Path(__file__).parents[1] / "fixtures" / "legacy_sqlite").glob("*.sql"))


@contextmanager
def _alembic(db: SqlDatabase) -> Iterator[Config]:
    """An Alembic config running in one write transaction of `db` (as storage.sql.schema runs it)."""
    with db.write() as conn:
        config = Config(attributes={"connection": conn})
        config.set_main_option("script_location", "membank.storage.sql:migrations")
        yield config


def _job(job_id: str, sequence: str | None, created: float) -> Job:
    return Job(
        id=job_id,
        tenant_id="t1",
        kind="k",
        status=JobStatus.QUEUED,
        payload={"id": job_id},
        created_at=from_epoch(created),
        updated_at=from_epoch(created),
        run_after=from_epoch(created),
        max_attempts=3,
        progress_total=2,
        actor="test",
        sequence_key=sequence,
    )


# Queue order: one job of user-a, then a batch sharing one created_at (ids sort against the queue order).
_QUEUE = [("z-first", T0), ("y-batch", T0 + 1), ("x-batch", T0 + 1), ("w-batch", T0 + 1)]
_QUEUE_ORDER = [job_id for job_id, _ in _QUEUE]
_INSERT_LEGACY_JOB = (
    "INSERT INTO jobs (id, tenant_id, kind, status, payload, attempts, max_attempts, run_after, actor, "
    "created_at, updated_at, batch_id, sequence_key) VALUES (:id, 't1', 'k', :status, '{}', :attempts, 3, "
    ":at, 'test', :at, :at, :batch, 'user-a')"
)


def _legacy_row(job_id: str, created: float) -> dict[str, object]:
    first = job_id == "z-first"  # it failed once and waits for its retry
    return {
        "id": job_id,
        "status": "failed" if first else "queued",
        "attempts": 1 if first else 0,
        "at": created,
        "batch": None if first else "b1",
    }


def _legacy_sqlite_with_jobs(path: Path) -> None:
    """A data dir as the pre-Alembic runner made it (each .sql file applied and recorded), with jobs."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    for file in LEGACY_FILES:
        conn.executescript(f"BEGIN IMMEDIATE; {file.read_text()}; COMMIT;")
        conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", (file.name,))
    for job_id, created in _QUEUE:
        conn.execute(_INSERT_LEGACY_JOB, _legacy_row(job_id, created))
    conn.execute("INSERT INTO job_items VALUES ('z-first', 0, 'created', 'm0', NULL, NULL)")
    conn.close()


def _jobs_shape(conn: Connection) -> tuple[set[str], dict[str, tuple[list[str], bool]]]:
    """The columns and indexes (columns, unique) of the jobs table as the database has them."""
    schema = inspect(conn)
    columns = {column["name"] for column in schema.get_columns("jobs")}
    indexes = {i["name"]: (list(i["column_names"]), bool(i["unique"])) for i in schema.get_indexes("jobs")}
    return columns, indexes


EXPECTED_SHAPE = (
    {column.name for column in tables.jobs.c},
    {str(i.name): ([column.name for column in i.columns], bool(i.unique)) for i in tables.jobs.indexes},
)


def _drain_in_order(db: SqlDatabase) -> list[str]:
    jobs = SqlJobRepository(db)
    order: list[str] = []
    while (job := jobs.claim("w", T0 + 10, 30)) is not None:
        order.append(job.id)
        assert jobs.complete(job.id, "w", {}, T0 + 10)
    return order


def test_a_legacy_sqlite_data_dir_keeps_its_queue_order(tmp_path: Path) -> None:
    path = tmp_path / "membank.sqlite3"
    _legacy_sqlite_with_jobs(path)
    store = SqlRecordStore.sqlite(path)
    try:
        assert store.migrate() == AFTER_0003
        with store.db.read() as conn:
            numbered = conn.execute(
                text("SELECT id, enqueue_seq, rowid FROM jobs ORDER BY enqueue_seq")
            ).all()
            assert [row.id for row in numbered] == _QUEUE_ORDER
            assert all(row.enqueue_seq == row.rowid for row in numbered)
            assert _jobs_shape(conn) == EXPECTED_SHAPE
            # No table was rebuilt: the items of the jobs are all still there.
            assert conn.execute(text("SELECT job_id, position FROM job_items")).all() == [("z-first", 0)]
        store.jobs.enqueue(_job("a-after", "user-a", T0 - 100))  # backdated, still queued after the others
        assert _drain_in_order(store.db) == [*_QUEUE_ORDER, "a-after"]
        kept = store.jobs.get("t1", "z-first")
        assert kept is not None and kept.attempts == 2 and kept.batch_id is None
    finally:
        store.close()


def test_the_downgrade_restores_the_previous_jobs_table_on_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "membank.sqlite3"
    _legacy_sqlite_with_jobs(path)
    store = SqlRecordStore.sqlite(path)
    try:
        store.migrate()
        with _alembic(store.db) as config:
            command.downgrade(config, "0003")
        with store.db.read() as conn:
            schema = inspect(conn)
            assert "enqueue_seq" not in {column["name"] for column in schema.get_columns("jobs")}
            indexes = {index["name"]: index["column_names"] for index in schema.get_indexes("jobs")}
            assert indexes["jobs_sequence"] == ["sequence_key", "status", "created_at"]
            assert "jobs_enqueue_order" not in indexes and "jobs_runnable" not in indexes
            assert conn.execute(text("SELECT COUNT(*) FROM job_items")).scalar_one() == 1
            assert conn.execute(text("SELECT COUNT(*) FROM jobs")).scalar_one() == 4
        assert store.migrate() == AFTER_0003  # and up again
    finally:
        store.close()


def test_a_postgres_database_at_0003_numbers_its_jobs_by_creation_then_id(postgres_url: str) -> None:
    store = SqlRecordStore.postgres(postgres_url)
    try:
        with _alembic(store.db) as config:
            command.upgrade(config, "0003")
        with store.db.write() as conn:
            for job_id, created in reversed(_QUEUE):  # inserted against the queue order: none to lean on
                conn.execute(text(_INSERT_LEGACY_JOB), _legacy_row(job_id, created))
        assert store.migrate() == AFTER_0003
        with store.db.read() as conn:
            numbered = (
                conn.execute(select(tables.jobs.c.id).order_by(tables.jobs.c.enqueue_seq)).scalars().all()
            )
            # The batch shares created_at: its jobs follow id order, the best PostgreSQL data has to go on.
            assert numbered == ["z-first", "w-batch", "x-batch", "y-batch"]
            assert _jobs_shape(conn) == EXPECTED_SHAPE
        store.jobs.enqueue(_job("a-after", "user-a", T0 - 100))
        assert _drain_in_order(store.db) == ["z-first", "w-batch", "x-batch", "y-batch", "a-after"]
    finally:
        store.close()
