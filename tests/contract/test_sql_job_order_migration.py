"""Revision 0004 (jobs.enqueue_seq) on a database with jobs in it: SQLite data dirs of the legacy schema
keep their queue order (rowid), PostgreSQL databases theirs ((created_at, id)); new jobs queue after them;
the result is the jobs table of tables.py; the downgrade restores the previous shape."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, inspect, select, text

import membank.storage.sql
from membank.models import Job, JobItem, JobStatus, from_epoch
from membank.storage.ports import Batch, JobProgress
from membank.storage.sql import tables
from membank.storage.sql.database import SqlDatabase
from membank.storage.sql.jobs import SqlJobRepository
from membank.storage.sqlite import SqliteRecordStore

T0 = 1_700_000_000.0
REVISION = Path(membank.storage.sql.__file__).parent / "migrations" / "versions" / "0004_job_order.py"


def _revision() -> ModuleType:
    spec = importlib.util.spec_from_file_location("revision_0004_job_order", REVISION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(db: SqlDatabase, step: Callable[[], None]) -> None:
    with db.write() as conn, Operations.context(MigrationContext.configure(conn)):
        step()


def _job(job_id: str, sequence: str | None, created: float, batch_id: str | None = None) -> Job:
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
        batch_id=batch_id,
    )


# Queue order: one job of user-a, then a batch sharing one created_at (ids sort against the queue order).
_BEFORE = _job("z-first", "user-a", T0)
_BATCH = [_job(job_id, "user-a", T0 + 1, "b1") for job_id in ("y-batch", "x-batch", "w-batch")]
_QUEUE_ORDER = [_BEFORE.id, *[job.id for job in _BATCH]]


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


def _legacy_sqlite_with_jobs(path: Path) -> None:
    legacy = SqliteRecordStore(path)
    legacy.migrate()
    legacy.jobs.enqueue(_BEFORE)
    legacy.jobs.create_batch(Batch("b1", "t1", "u", 3, {}, "test", T0 + 1), _BATCH)
    claimed = legacy.jobs.claim("w0", T0 + 2, 30)
    assert claimed is not None and claimed.id == _BEFORE.id
    legacy.jobs.save_progress(JobProgress(_BEFORE.id, "w0", 1, {"at": 1}, [JobItem(0, "created", "m0")]))
    assert legacy.jobs.fail(_BEFORE.id, "w0", "retry", T0 + 2, retry_at=T0 + 3)
    legacy.close()


def test_a_legacy_sqlite_data_dir_keeps_its_queue_order(tmp_path: Path) -> None:
    path = tmp_path / "membank.sqlite3"
    _legacy_sqlite_with_jobs(path)
    db = SqlDatabase.sqlite(path)
    try:
        _run(db, _revision().upgrade)
        with db.read() as conn:
            numbered = conn.execute(
                text("SELECT id, enqueue_seq, rowid FROM jobs ORDER BY enqueue_seq")
            ).all()
            assert [row.id for row in numbered] == _QUEUE_ORDER
            assert all(row.enqueue_seq == row.rowid for row in numbered)
            assert _jobs_shape(conn) == EXPECTED_SHAPE
            # Rebuilding nothing: the items of the jobs are all still there.
            assert conn.execute(text("SELECT job_id, position FROM job_items")).all() == [(_BEFORE.id, 0)]
        jobs = SqlJobRepository(db)
        jobs.enqueue(_job("a-after", "user-a", T0 - 100))  # backdated, still queued after the others
        assert _drain_in_order(db) == [*_QUEUE_ORDER, "a-after"]
        kept = jobs.get("t1", _BEFORE.id)
        assert kept is not None and kept.attempts == 2 and kept.checkpoint == {"at": 1}
    finally:
        db.close()


def test_the_downgrade_restores_the_previous_jobs_table_on_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "membank.sqlite3"
    _legacy_sqlite_with_jobs(path)
    db = SqlDatabase.sqlite(path)
    revision = _revision()
    try:
        _run(db, revision.upgrade)
        _run(db, revision.downgrade)
        with db.read() as conn:
            schema = inspect(conn)
            assert "enqueue_seq" not in {column["name"] for column in schema.get_columns("jobs")}
            indexes = {index["name"]: index["column_names"] for index in schema.get_indexes("jobs")}
            assert indexes["jobs_sequence"] == ["sequence_key", "status", "created_at"]
            assert "jobs_enqueue_order" not in indexes
            assert conn.execute(text("SELECT COUNT(*) FROM jobs")).scalar_one() == 4
    finally:
        db.close()


def _postgres_at_revision_0003(db: SqlDatabase) -> None:
    """tables.py as it was before 0004: no enqueue_seq, no sequence, the old index of sequences."""
    tables.metadata.create_all(db.engine)
    with db.write() as conn:
        conn.execute(text("ALTER TABLE jobs DROP COLUMN enqueue_seq"))  # drops its two indexes too
        conn.execute(text("DROP SEQUENCE jobs_enqueue_seq"))
        conn.execute(
            text(
                "CREATE INDEX jobs_sequence ON jobs (sequence_key, status, created_at) "
                "WHERE sequence_key IS NOT NULL"
            )
        )
        for job in (*reversed(_BATCH), _BEFORE):  # inserted out of queue order: no insertion order to lean on
            conn.execute(
                text(
                    "INSERT INTO jobs (id, tenant_id, kind, status, payload, max_attempts, run_after, actor, "
                    "created_at, updated_at, sequence_key) VALUES (:id, 't1', 'k', 'queued', '{}', 3, :at, "
                    "'test', :at, :at, 'user-a')"
                ),
                {"id": job.id, "at": job.created_at.timestamp()},
            )


@pytest.mark.parametrize("sql_engine", ["postgres"], indirect=True)
def test_a_postgres_database_numbers_its_jobs_by_creation_then_id(sql_url: str) -> None:
    db = SqlDatabase(sql_url)
    try:
        _postgres_at_revision_0003(db)
        _run(db, _revision().upgrade)
        with db.read() as conn:
            numbered = (
                conn.execute(select(tables.jobs.c.id).order_by(tables.jobs.c.enqueue_seq)).scalars().all()
            )
            # The batch shares created_at: its jobs follow id order, the best PostgreSQL data has to go on.
            assert numbered == [_BEFORE.id, "w-batch", "x-batch", "y-batch"]
            assert _jobs_shape(conn) == EXPECTED_SHAPE
        SqlJobRepository(db).enqueue(_job("a-after", "user-a", T0 - 100))
        assert _drain_in_order(db) == [_BEFORE.id, "w-batch", "x-batch", "y-batch", "a-after"]
    finally:
        db.close()
