"""Fair claiming across tenants and the bound on each tenant's queue, on SQLite and PostgreSQL: a tenant's
backlog does not hold back another tenant's jobs, the per-tenant order rules still hold, and an enqueue past
the bound is refused and stores nothing, under concurrent enqueues and claims too."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from membank.errors import JobQueueFull
from membank.models import Job, JobStatus, now_utc
from membank.storage.ports import Batch, JobProgress
from membank.storage.sql.database import SqlDatabase
from membank.storage.sql.jobs import SqlJobRepository
from membank.storage.sql.tables import job_tenants
from tests.contract.racing import run_together
from tests.contract.records import job


def _now() -> float:
    return time.time() + 1  # the test's jobs are due from their creation on


@pytest.fixture
def jobs(sql_db: SqlDatabase) -> SqlJobRepository:
    return SqlJobRepository(sql_db)


def _job(tenant: str, *, priority: int = 0, sequence: str | None = None, key: str | None = None) -> Job:
    return job(tenant, priority=priority, sequence_key=sequence, idempotency_key=key)


def _queue(jobs: SqlJobRepository, tenant: str, count: int) -> list[str]:
    members = [job(tenant) for _ in range(count)]
    jobs.create_batch(Batch(str(uuid.uuid4()), tenant, "u", count, {}, "test", time.time()), members)
    return [member.id for member in members]


def _tenants_claimed(jobs: SqlJobRepository, count: int) -> list[str]:
    order = []
    for n in range(count):
        claimed = jobs.claim(f"w{n}", _now(), 600)
        assert claimed is not None
        order.append(claimed.tenant_id)
    return order


def _unfinished(db: SqlDatabase) -> dict[str, int]:
    with db.read() as conn:
        rows = conn.execute(select(job_tenants.c.tenant_id, job_tenants.c.unfinished))
        return {tenant: int(count) for tenant, count in rows}


def test_claims_take_turns_between_tenants_whatever_the_queue_order(jobs: SqlJobRepository) -> None:
    _queue(jobs, "big", 50)
    late = [jobs.enqueue(_job("small"))[0].id for _ in range(2)]
    assert _tenants_claimed(jobs, 5) == ["big", "small", "big", "small", "big"]
    # The small tenant's jobs went in their own order, the big tenant's backlog is next and complete.
    assert jobs.claim("w", _now(), 600) is not None
    assert _unfinished(jobs._db) == {"big": 50, "small": 2}
    assert [j for j in late if (stored := jobs.get("small", j)) and stored.attempts == 1] == late


def test_a_tenant_that_queues_later_is_served_next_not_after_the_backlog(jobs: SqlJobRepository) -> None:
    _queue(jobs, "big", 30)
    assert _tenants_claimed(jobs, 3) == ["big", "big", "big"]  # alone: it gets every turn
    newcomer = jobs.enqueue(_job("newcomer"))[0]
    claimed = jobs.claim("w", _now(), 600)
    assert claimed is not None and claimed.id == newcomer.id


def test_within_a_tenant_priority_and_sequences_still_decide(jobs: SqlJobRepository) -> None:
    first = jobs.enqueue(_job("a", sequence="user-1"))[0]
    behind = jobs.enqueue(_job("a", sequence="user-1", priority=9))[0]
    urgent = jobs.enqueue(_job("a", priority=5))[0]
    other = jobs.enqueue(_job("b"))[0]
    claimed = [jobs.claim(f"w{n}", _now(), 600) for n in range(4)]
    # a: urgent before the sequence's first; b in between; `behind` waits for `first` to finish.
    assert [c.id if c else None for c in claimed] == [urgent.id, other.id, first.id, None]
    assert jobs.complete(first.id, "w2", {}, _now())
    again = jobs.claim("w", _now(), 600)
    assert again is not None and again.id == behind.id


def test_a_tenant_whose_jobs_are_all_taken_or_not_due_does_not_block_the_others(
    jobs: SqlJobRepository,
) -> None:
    _queue(jobs, "a", 1)
    jobs.enqueue(job("b", run_after=now_utc() + timedelta(hours=1)))  # b's only job is not due yet
    _queue(jobs, "c", 2)
    assert _tenants_claimed(jobs, 3) == ["a", "c", "c"]
    assert jobs.claim("w", _now(), 600) is None


def test_the_queue_bound_refuses_what_would_pass_it_and_stores_nothing(jobs: SqlJobRepository) -> None:
    for _ in range(3):
        jobs.enqueue(_job("a"), max_unfinished=3)
    with pytest.raises(JobQueueFull) as refused:
        jobs.enqueue(_job("a"), max_unfinished=3)
    assert refused.value.status == 429 and refused.value.retry_after is not None
    assert refused.value.details == {"limit": 3, "unfinished": 3, "requested": 1}
    with pytest.raises(JobQueueFull):
        _queue_bounded(jobs, "b", 4, bound=3)  # a batch over the bound, even on an empty queue
    jobs.enqueue(_job("b"), max_unfinished=3)  # the other tenant has its own bound
    assert jobs.counts() == {"queued": 4}
    assert _unfinished(jobs._db) == {"a": 3, "b": 1}


def test_finished_and_dead_jobs_make_room_failed_ones_do_not(jobs: SqlJobRepository) -> None:
    for _ in range(3):
        jobs.enqueue(_job("a"), max_unfinished=3)
    done, retried, dead = (jobs.claim(f"w{n}", _now(), 600) for n in range(3))
    assert done and retried and dead
    assert jobs.complete(done.id, "w0", {}, _now())
    assert jobs.fail(
        retried.id, "w1", "boom", _now(), retry_at=_now() + 60
    )  # still unfinished: it will run again
    jobs.enqueue(_job("a"), max_unfinished=3)
    with pytest.raises(JobQueueFull):
        jobs.enqueue(_job("a"), max_unfinished=3)
    assert jobs.fail(dead.id, "w2", "boom", _now(), retry_at=None)
    jobs.enqueue(_job("a"), max_unfinished=3)
    # Only the holder's completion counts: a stale holder's late complete changes nothing.
    assert not jobs.complete(done.id, "w0", {}, _now())
    assert _unfinished(jobs._db) == {"a": 3}


def test_a_replayed_idempotency_key_is_answered_even_when_the_queue_is_full(jobs: SqlJobRepository) -> None:
    first, _ = jobs.enqueue(_job("a", key="k"), max_unfinished=1)
    again, created = jobs.enqueue(_job("a", key="k"), max_unfinished=1)
    assert not created and again.id == first.id
    assert _unfinished(jobs._db) == {"a": 1}


def test_concurrent_enqueues_never_pass_the_bound(jobs: SqlJobRepository) -> None:
    def try_enqueue() -> bool:
        try:
            jobs.enqueue(_job("a"), max_unfinished=5)
        except JobQueueFull:
            return False
        return True

    accepted = run_together([try_enqueue] * 12)
    assert accepted.count(True) == 5
    assert jobs.counts() == {"queued": 5} and _unfinished(jobs._db) == {"a": 5}


def test_concurrent_claimers_over_many_tenants_never_share_a_job(jobs: SqlJobRepository) -> None:
    queued = {member for tenant in ("a", "b", "c") for member in _queue(jobs, tenant, 40)}
    completions: Counter[str] = Counter()
    guard = threading.Lock()

    def work(worker: int) -> None:
        while (claimed := jobs.claim(f"w{worker}", time.time(), 300)) is not None:
            if jobs.complete(claimed.id, f"w{worker}", {}, time.time()):
                with guard:
                    completions[claimed.id] += 1

    run_together([lambda n=n: work(n) for n in range(4)])
    assert set(completions) == queued and set(completions.values()) == {1}
    assert _unfinished(jobs._db) == {"a": 0, "b": 0, "c": 0}


def _queue_bounded(jobs: SqlJobRepository, tenant: str, count: int, *, bound: int) -> None:
    members = [_job(tenant) for _ in range(count)]
    batch = Batch(str(uuid.uuid4()), tenant, "u", count, {}, "test", time.time())
    jobs.create_batch(batch, members, max_unfinished=bound)


def test_the_claim_walks_the_tenant_index_not_the_backlog(
    jobs: SqlJobRepository, sql_db: SqlDatabase
) -> None:
    _queue(jobs, "big", 3000)
    _queue(jobs, "small", 2)
    with sql_db.write() as conn:
        conn.exec_driver_sql("ANALYZE")
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.startswith("SELECT") and "job_tenants" in statement:
            seen.append((statement, parameters))

    event.listen(sql_db.engine, "before_cursor_execute", record)
    try:
        assert jobs.claim("w", _now(), 600) is not None
    finally:
        event.remove(sql_db.engine, "before_cursor_execute", record)
    [(statement, parameters)] = seen
    explain = "EXPLAIN (ANALYZE, BUFFERS)" if sql_db.is_postgres else "EXPLAIN QUERY PLAN"
    with sql_db.write() as conn:
        rows = conn.exec_driver_sql(f"{explain} {statement}", parameters).all()
        conn.rollback()
    plan = "\n".join(" ".join(str(part) for part in row) for row in rows)
    assert "jobs_tenant_runnable" in plan, plan
    if sql_db.is_postgres:
        # Each tenant's probe stops at its first runnable job: one index row per tenant, not 3000.
        assert "Seq Scan on jobs" not in plan and "Sort Key: jobs" not in plan, plan


def test_the_status_a_waiter_polls_follows_the_job_within_its_tenant(jobs: SqlJobRepository) -> None:
    queued = jobs.enqueue(_job("a"))[0]
    assert jobs.status("a", queued.id) is JobStatus.QUEUED
    assert jobs.status("b", queued.id) is None and jobs.status("a", "missing") is None
    claimed = jobs.claim("w", _now(), 600)
    assert claimed is not None and jobs.status("a", queued.id) is JobStatus.PROCESSING
    assert jobs.complete(queued.id, "w", {}, _now())
    assert jobs.status("a", queued.id) is JobStatus.COMPLETED


def test_a_long_job_sees_another_tenant_waiting_and_gives_way_keeping_its_progress(
    jobs: SqlJobRepository, sql_db: SqlDatabase
) -> None:
    long = jobs.enqueue(_job("big"))[0]
    claimed = jobs.claim("w", _now(), 600)
    assert claimed is not None and claimed.id == long.id
    assert not jobs.others_waiting("big", _now())  # alone: it keeps going
    jobs.save_progress(JobProgress(long.id, "w", 4, {"created": 4}))
    other = jobs.enqueue(_job("small"))[0]
    assert jobs.others_waiting("big", _now()) and not jobs.others_waiting("small", _now())
    assert not jobs.release(long.id, "someone-else", _now())  # only the holder can
    assert jobs.release(long.id, "w", _now())
    back = jobs.get("big", long.id)
    assert back is not None and back.status is JobStatus.QUEUED and back.lease_owner is None
    assert back.progress_done == 4 and back.checkpoint == {"created": 4} and back.attempts == 0
    # The other tenant goes first; then the long job resumes where it was, still on its first attempt.
    first, second = jobs.claim("w", _now(), 600), jobs.claim("w2", _now(), 600)
    assert first is not None and first.id == other.id
    assert second is not None and second.id == long.id and second.progress_done == 4 and second.attempts == 1
    assert _unfinished(sql_db) == {"big": 1, "small": 1}
