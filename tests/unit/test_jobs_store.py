"""The durable job queue on the real SQLite store: claims, leases, retries, idempotency."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from membank.errors import LeaseLost
from membank.models import Job, JobStatus, Memory, content_hash, now_utc
from membank.storage.ports import JobProgress, StoredResponse
from membank.storage.sql.store import SqlRecordStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlRecordStore]:
    s = SqlRecordStore.sqlite(tmp_path / "db.sqlite3")
    s.migrate()
    yield s
    s.close()


def _job(key: str | None = None, tenant: str = "t1") -> Job:
    now = now_utc()
    return Job(
        id=str(uuid.uuid4()),
        tenant_id=tenant,
        kind="k",
        status=JobStatus.QUEUED,
        payload={"n": 1},
        created_at=now,
        updated_at=now,
        run_after=now,
        max_attempts=3,
        progress_total=10,
        idempotency_key=key,
        actor="test",
    )


def _memory(tenant: str = "t1") -> Memory:
    now = now_utc()
    memory_id = str(uuid.uuid4())
    return Memory(
        id=memory_id,
        tenant_id=tenant,
        user_id="u",
        content="c",
        memory_type="factual",
        importance=5,
        created_at=now,
        updated_at=now,
        valid_from=now,
        content_hash=content_hash("c"),
        lineage_id=memory_id,
    )


def test_migrations_are_applied_once(store: SqlRecordStore) -> None:
    assert store.migrate() == []


def test_claim_leases_one_job_to_one_worker(store: SqlRecordStore) -> None:
    job, created = store.jobs.enqueue(_job())
    assert created
    claimed = store.jobs.claim("w1", now=job.run_after.timestamp() + 1, lease_seconds=30)
    assert claimed is not None and claimed.id == job.id and claimed.status is JobStatus.PROCESSING
    assert claimed.attempts == 1 and claimed.lease_owner == "w1"
    assert store.jobs.claim("w2", now=job.run_after.timestamp() + 2, lease_seconds=30) is None


def test_expired_lease_is_reclaimed_and_the_old_worker_can_no_longer_write(store: SqlRecordStore) -> None:
    job, _ = store.jobs.enqueue(_job())
    t0 = job.run_after.timestamp()
    store.jobs.claim("w1", now=t0, lease_seconds=5)
    assert store.jobs.claim("w2", now=t0 + 4, lease_seconds=5) is None
    again = store.jobs.claim("w2", now=t0 + 6, lease_seconds=5)
    assert again is not None and again.lease_owner == "w2" and again.attempts == 2
    assert not store.jobs.heartbeat(job.id, "w1", t0 + 6, 5)
    assert not store.jobs.complete(job.id, "w1", {"by": "w1"}, t0 + 6)
    with pytest.raises(LeaseLost):
        store.memories.insert(
            [_memory()], [[0.0] * 4], "m", actor="a", progress=JobProgress(job.id, "w1", 5, {})
        )
    assert (
        store.memories.list_for_user(
            "t1",
            "u",
            memory_type=None,
            include_invalid=True,
            at=t0 + 9,
            sort_by="created_at",
            descending=True,
            limit=10,
            offset=0,
        ).total
        == 0
    )
    assert store.jobs.complete(job.id, "w2", {"by": "w2"}, t0 + 7)
    done = store.jobs.get("t1", job.id)
    assert done is not None and done.status is JobStatus.COMPLETED and done.result == {"by": "w2"}


def test_progress_commits_with_the_chunk(store: SqlRecordStore) -> None:
    job, _ = store.jobs.enqueue(_job())
    store.jobs.claim("w1", now=job.run_after.timestamp(), lease_seconds=30)
    store.memories.insert(
        [_memory()], [[0.1] * 4], "m", actor="a", progress=JobProgress(job.id, "w1", 4, {"cursor": 4})
    )
    saved = store.jobs.get("t1", job.id)
    assert saved is not None and saved.progress_done == 4 and saved.checkpoint == {"cursor": 4}


def test_failed_jobs_retry_after_their_time_and_dead_jobs_never(store: SqlRecordStore) -> None:
    job, _ = store.jobs.enqueue(_job())
    t0 = job.run_after.timestamp()
    store.jobs.claim("w1", now=t0, lease_seconds=30)
    assert store.jobs.fail(job.id, "w1", "boom", t0, retry_at=t0 + 10)
    assert store.jobs.claim("w1", now=t0 + 5, lease_seconds=30) is None
    assert store.jobs.claim("w1", now=t0 + 11, lease_seconds=30) is not None
    assert store.jobs.fail(job.id, "w1", "boom again", t0 + 11, retry_at=None)
    dead = store.jobs.get("t1", job.id)
    assert dead is not None and dead.status is JobStatus.DEAD and dead.error == "boom again"
    assert store.jobs.claim("w1", now=t0 + 1000, lease_seconds=30) is None
    assert store.jobs.counts() == {"dead": 1}


def test_idempotency_key_is_per_tenant(store: SqlRecordStore) -> None:
    first, created = store.jobs.enqueue(_job("same"))
    again, created_again = store.jobs.enqueue(_job("same"))
    other, created_other = store.jobs.enqueue(_job("same", tenant="t2"))
    assert created and not created_again and again.id == first.id
    assert created_other and other.id != first.id
    assert store.jobs.get("t2", first.id) is None


def _sequenced(sequence: str | None, priority: int = 0) -> Job:
    job = _job()
    job.sequence_key = sequence
    job.priority = priority
    return job


def test_jobs_of_one_sequence_run_one_at_a_time_in_order(store: SqlRecordStore) -> None:
    first, second, other = _sequenced("user-a"), _sequenced("user-a", priority=9), _sequenced("user-b")
    for job in (first, second, other):
        store.jobs.enqueue(job)
    now = now_utc().timestamp() + 1
    claimed = [
        store.jobs.claim("w1", now, 30),
        store.jobs.claim("w2", now, 30),
        store.jobs.claim("w3", now, 30),
    ]
    # The high-priority second job of user-a waits for the first; user-b's job is independent.
    assert [j.id if j else None for j in claimed] == [first.id, other.id, None]
    assert store.jobs.complete(other.id, "w2", {}, now)
    assert store.jobs.fail(first.id, "w1", "boom", now, retry_at=now + 60)
    assert store.jobs.claim("w1", now, 30) is None  # a failed job due for retry still holds its sequence
    claimed_again = store.jobs.claim("w1", now + 61, 30)
    assert claimed_again is not None and claimed_again.id == first.id
    assert store.jobs.fail(first.id, "w1", "boom", now + 61, retry_at=None)  # dead: releases the sequence
    after = store.jobs.claim("w2", now + 62, 30)
    assert after is not None and after.id == second.id


def test_idempotency_keys_are_reserved_before_the_request_runs(store: SqlRecordStore) -> None:
    repo = store.idempotency
    assert repo.reserve("t1", "k", "h1", 100.0, stale_after=60) is None
    running = repo.reserve("t1", "k", "h1", 101.0, stale_after=60)
    assert running is not None and running.status == 0  # a second request sees the first still running
    assert repo.reserve("t2", "k", "h1", 101.0, stale_after=60) is None  # keys are per tenant
    repo.put("t1", "k", StoredResponse("h1", 202, {"job": 1}), 102.0)
    done = repo.reserve("t1", "k", "h2", 500.0, stale_after=60)
    assert done == StoredResponse("h1", 202, {"job": 1})  # a stored answer is never taken over
    assert repo.reserve("t1", "dead", "h1", 100.0, stale_after=60) is None
    assert repo.reserve("t1", "dead", "h2", 200.0, stale_after=60) is None  # its request died: taken over
    repo.release("t1", "dead")
    assert repo.reserve("t1", "dead", "h3", 201.0, stale_after=60) is None  # released: free again
