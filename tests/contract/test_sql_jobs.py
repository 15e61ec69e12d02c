"""The job queue of the SQL system of record, on SQLite and PostgreSQL: claim order, priority, due times,
per-sequence order, leases, retries, dead letter, progress and items, idempotency keys and batches."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from membank.errors import LeaseLost
from membank.models import Job, JobItem, JobStatus, now_utc
from membank.storage.ports import Batch, JobProgress, UsageRecord
from membank.storage.sql.database import SqlDatabase
from membank.storage.sql.jobs import SqlJobRepository, save_progress
from membank.storage.sql.tables import llm_usage

T0 = now_utc().replace(microsecond=0)


def _job(
    *,
    job_id: str | None = None,
    tenant: str = "t1",
    key: str | None = None,
    priority: int = 0,
    sequence: str | None = None,
    run_after_offset: float = 0.0,
    created_offset: float = 0.0,
    batch_id: str | None = None,
) -> Job:
    created = T0 + timedelta(seconds=created_offset)
    return Job(
        id=job_id or str(uuid.uuid4()),
        tenant_id=tenant,
        kind="k",
        status=JobStatus.QUEUED,
        payload={"n": 1},
        created_at=created,
        updated_at=created,
        run_after=T0 + timedelta(seconds=run_after_offset),
        max_attempts=3,
        progress_total=10,
        idempotency_key=key,
        actor="test",
        priority=priority,
        sequence_key=sequence,
        batch_id=batch_id,
    )


NOW = T0.timestamp() + 1


@pytest.fixture
def jobs(sql_db: SqlDatabase) -> SqlJobRepository:
    return SqlJobRepository(sql_db)


def _claim_all(jobs: SqlJobRepository, now: float) -> list[str]:
    """Ids of every job claimable at `now`, in the order claims get them (each by its own worker)."""
    claimed: list[str] = []
    while (job := jobs.claim(f"w{len(claimed)}", now, 600)) is not None:
        claimed.append(job.id)
    return claimed


def test_a_claim_leases_one_job_to_one_worker(jobs: SqlJobRepository) -> None:
    job, created = jobs.enqueue(_job())
    assert created
    claimed = jobs.claim("w1", NOW, lease_seconds=30)
    assert claimed is not None and claimed.id == job.id and claimed.status is JobStatus.PROCESSING
    assert claimed.attempts == 1 and claimed.lease_owner == "w1"
    assert claimed.lease_expires_at is not None and claimed.lease_expires_at.timestamp() == NOW + 30
    assert claimed.started_at is not None and claimed.started_at.timestamp() == NOW
    assert claimed.payload == {"n": 1} and claimed.progress_total == 10 and claimed.actor == "test"
    assert jobs.claim("w2", NOW + 1, lease_seconds=30) is None
    stored = jobs.get("t1", job.id)
    assert stored is not None and stored.lease_owner == "w1"
    assert jobs.get("t2", job.id) is None  # jobs are tenant-scoped


def test_claims_go_by_priority_then_due_time_then_creation_then_queue_order(jobs: SqlJobRepository) -> None:
    plain = _job(job_id="d-plain")
    urgent = _job(job_id="e-urgent", priority=5, run_after_offset=0.5)
    overdue = _job(job_id="c-overdue", run_after_offset=-10)
    # Same priority, due time and creation time as `plain`, queued after it: only the queue order decides,
    # and its id sorts first, so an order by id would be caught.
    twin = _job(job_id="a-twin")
    older = _job(job_id="b-older", created_offset=-5)
    later = _job(job_id="f-later", priority=9, run_after_offset=100)
    for job in (plain, urgent, overdue, twin, older, later):
        jobs.enqueue(job)
    assert _claim_all(jobs, NOW) == [urgent.id, overdue.id, older.id, plain.id, twin.id]
    assert _claim_all(jobs, T0.timestamp() + 101) == [later.id]


def test_jobs_of_one_sequence_in_one_batch_run_one_at_a_time_in_batch_order(jobs: SqlJobRepository) -> None:
    batch = Batch("b1", "t1", "user-a", 4, {"mode": "raw"}, "test", T0.timestamp())
    # One batch: every job has the same created_at; ids sort against the batch order.
    members = [
        _job(job_id="j4", sequence="user-a", batch_id="b1"),
        _job(job_id="j3", sequence="user-b", batch_id="b1"),
        _job(job_id="j2", sequence="user-a", batch_id="b1", priority=9),
        _job(job_id="j1", sequence="user-a", batch_id="b1"),
    ]
    jobs.create_batch(batch, members)
    assert _claim_all(jobs, NOW) == ["j4", "j3"]  # j2's priority does not let it pass j4 of its sequence
    assert jobs.complete("j4", "w0", {}, NOW)
    assert _claim_all(jobs, NOW) == ["j2"]
    assert jobs.complete("j2", "w0", {}, NOW)
    assert _claim_all(jobs, NOW) == ["j1"]
    found = jobs.get_batch("t1", "b1")
    assert found is not None
    stored_batch, stored_jobs = found
    assert stored_batch == batch
    assert [job.id for job in stored_jobs] == ["j4", "j3", "j2", "j1"]
    assert jobs.get_batch("t2", "b1") is None and jobs.get_batch("t1", "missing") is None


def test_a_failed_job_holds_its_sequence_until_it_is_dead(jobs: SqlJobRepository) -> None:
    first, second, other = _job(sequence="a"), _job(sequence="a", priority=9), _job(sequence="b")
    for job in (first, second, other):
        jobs.enqueue(job)
    assert _claim_all(jobs, NOW) == [first.id, other.id]
    assert jobs.fail(first.id, "w0", "boom", NOW, retry_at=NOW + 60)
    assert jobs.claim("w1", NOW, 30) is None  # failed, waiting for its retry: the sequence still waits
    again = jobs.claim("w1", NOW + 61, 30)
    assert again is not None and again.id == first.id and again.attempts == 2
    assert jobs.fail(first.id, "w1", "boom", NOW + 61, retry_at=None)  # dead: releases the sequence
    after = jobs.claim("w2", NOW + 62, 30)
    assert after is not None and after.id == second.id


def test_a_job_never_starts_before_the_earlier_job_of_its_sequence_finished(jobs: SqlJobRepository) -> None:
    # A claimer reads its clock and then waits for the write lock; meanwhile the job ahead of it completes.
    first, dead, second, third, other = (_job(sequence=s) for s in ("a", "a", "a", "a", "b"))
    for job in (first, dead, second, third, other):
        jobs.enqueue(job)
    assert _claim_all(jobs, NOW) == [first.id, other.id]
    assert jobs.complete(first.id, "w0", {}, NOW + 20)
    claimed = jobs.claim("w1", NOW + 5, 30)
    assert claimed is not None and claimed.id == dead.id
    assert claimed.started_at is not None and claimed.started_at.timestamp() == NOW + 20
    assert jobs.fail(dead.id, "w1", "boom", NOW + 40, retry_at=None)
    claimed = jobs.claim("w2", NOW + 30, 30)  # after a completed job and a later dead one: the dead one's end
    assert claimed is not None and claimed.id == second.id
    assert claimed.started_at is not None and claimed.started_at.timestamp() == NOW + 40
    assert jobs.complete(second.id, "w2", {}, NOW + 50)
    claimed = jobs.claim("w3", NOW + 60, 30)  # a clock read after the end is kept
    assert claimed is not None and claimed.id == third.id
    assert claimed.started_at is not None and claimed.started_at.timestamp() == NOW + 60
    started = jobs.get("t1", other.id)
    assert started is not None and started.started_at is not None and started.started_at.timestamp() == NOW


def test_an_expired_lease_is_reclaimed_and_the_old_holder_can_no_longer_write(
    jobs: SqlJobRepository, sql_db: SqlDatabase
) -> None:
    job, _ = jobs.enqueue(_job())
    jobs.claim("w1", NOW, lease_seconds=5)
    assert jobs.claim("w2", NOW + 4, lease_seconds=5) is None
    again = jobs.claim("w2", NOW + 6, lease_seconds=5)
    assert again is not None and again.lease_owner == "w2" and again.attempts == 2
    assert not jobs.heartbeat(job.id, "w1", NOW + 6, 5)
    assert not jobs.complete(job.id, "w1", {"by": "w1"}, NOW + 6)
    assert not jobs.fail(job.id, "w1", "late", NOW + 6, retry_at=None)
    with pytest.raises(LeaseLost):
        jobs.save_progress(JobProgress(job.id, "w1", 5, {"cursor": 5}))
    # In a caller's transaction, the lost lease rolls back the work written beside the progress.
    usage = UsageRecord("t1", job.id, "extract", "m", 1, 1, NOW)
    with pytest.raises(LeaseLost), sql_db.write() as conn:
        conn.execute(llm_usage.insert().values(**asdict(usage)))
        save_progress(conn, JobProgress(job.id, "w1", 5, {"cursor": 5}))
    with sql_db.read() as conn:
        assert conn.execute(select(func.count()).select_from(llm_usage)).scalar_one() == 0
    assert jobs.complete(job.id, "w2", {"by": "w2"}, NOW + 7)
    done = jobs.get("t1", job.id)
    assert done is not None and done.status is JobStatus.COMPLETED and done.result == {"by": "w2"}
    assert done.progress_done == done.progress_total == 10 and done.checkpoint == {}
    assert done.lease_owner is None and done.finished_at is not None


def test_a_heartbeat_extends_only_the_holders_lease(jobs: SqlJobRepository) -> None:
    job, _ = jobs.enqueue(_job())
    jobs.claim("w1", NOW, lease_seconds=5)
    assert jobs.heartbeat(job.id, "w1", NOW + 4, 5)
    assert not jobs.heartbeat(job.id, "w2", NOW + 4, 50)
    assert jobs.claim("w2", NOW + 6, 5) is None  # the lease now runs to NOW + 9
    reclaimed = jobs.claim("w2", NOW + 10, 5)
    assert reclaimed is not None and reclaimed.lease_owner == "w2"


def test_failed_jobs_retry_after_their_time_and_dead_jobs_never(jobs: SqlJobRepository) -> None:
    job, _ = jobs.enqueue(_job())
    jobs.claim("w1", NOW, lease_seconds=30)
    assert jobs.fail(job.id, "w1", "boom", NOW, retry_at=NOW + 10)
    failed = jobs.get("t1", job.id)
    assert failed is not None and failed.status is JobStatus.FAILED and failed.finished_at is None
    assert failed.lease_owner is None and failed.run_after.timestamp() == NOW + 10
    assert jobs.claim("w1", NOW + 5, lease_seconds=30) is None
    assert jobs.claim("w1", NOW + 11, lease_seconds=30) is not None
    assert jobs.fail(job.id, "w1", "boom again", NOW + 11, retry_at=None)
    dead = jobs.get("t1", job.id)
    assert dead is not None and dead.status is JobStatus.DEAD and dead.error == "boom again"
    assert dead.attempts == 2 and dead.finished_at is not None
    assert jobs.claim("w1", NOW + 1000, lease_seconds=30) is None
    assert jobs.counts() == {"dead": 1}


def test_counts_are_per_status(jobs: SqlJobRepository) -> None:
    for _ in range(3):
        jobs.enqueue(_job())
    claimed = jobs.claim("w1", NOW, 30)
    assert claimed is not None and jobs.complete(claimed.id, "w1", {}, NOW)
    jobs.claim("w2", NOW, 30)
    assert jobs.counts() == {"queued": 1, "processing": 1, "completed": 1}


def test_progress_saves_checkpoint_and_items_which_page_by_position(jobs: SqlJobRepository) -> None:
    job, _ = jobs.enqueue(_job())
    jobs.claim("w1", NOW, 30)
    first = [JobItem(0, "created", memory_id="m0"), JobItem(1, "skipped", reason="duplicate")]
    jobs.save_progress(JobProgress(job.id, "w1", 2, {"cursor": 2}, items=first))
    # A retried chunk writes its items again: they replace, never duplicate.
    again = [JobItem(1, "created", memory_id="m1"), JobItem(2, "failed", error="bad"), JobItem(3, "created")]
    jobs.save_progress(JobProgress(job.id, "w1", 4, {"cursor": 4}, items=again))
    saved = jobs.get("t1", job.id)
    assert saved is not None and saved.progress_done == 4 and saved.checkpoint == {"cursor": 4}
    page, total = jobs.items("t1", job.id, limit=2, offset=1)
    assert total == 4
    assert page == [JobItem(1, "created", memory_id="m1"), JobItem(2, "failed", error="bad")]
    assert jobs.items("t2", job.id, limit=10, offset=0) == ([], 0)
    assert jobs.items("t1", "missing", limit=10, offset=0) == ([], 0)


def test_an_idempotency_key_returns_the_first_job_of_its_tenant(jobs: SqlJobRepository) -> None:
    first, created = jobs.enqueue(_job(key="same"))
    again, created_again = jobs.enqueue(_job(key="same"))
    other, created_other = jobs.enqueue(_job(key="same", tenant="t2"))
    assert created and not created_again and again.id == first.id and again.status is JobStatus.QUEUED
    assert created_other and other.id != first.id
    assert jobs.counts() == {"queued": 2}


def test_new_jobs_queue_after_every_earlier_one_even_when_created_earlier(jobs: SqlJobRepository) -> None:
    """The sequence order is the order of enqueueing, not the creation time a caller put on the job."""
    first = _job(job_id="first", sequence="a")
    backdated = _job(job_id="backdated", sequence="a", created_offset=-60)
    jobs.enqueue(first)
    jobs.enqueue(backdated)
    assert _claim_all(jobs, NOW) == ["first"]
