"""The worker loop against the real SQLite queue: success, retry with backoff, dead letter, unknown kinds."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from membank.backoff import OutageBackoff
from membank.jobs.worker import TaskContext, Worker, finish_within
from membank.models import Job, JobStatus, now_utc
from membank.storage.sql.store import SqlRecordStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlRecordStore]:
    s = SqlRecordStore.sqlite(tmp_path / "db.sqlite3")
    s.migrate()
    yield s
    s.close()


def _enqueue(store: SqlRecordStore, kind: str, max_attempts: int = 3) -> str:
    now = now_utc()
    job = Job(
        id=str(uuid.uuid4()),
        tenant_id="t",
        kind=kind,
        status=JobStatus.QUEUED,
        payload={},
        created_at=now,
        updated_at=now,
        run_after=now,
        max_attempts=max_attempts,
        actor="test",
    )
    store.jobs.enqueue(job)
    return job.id


async def _drain(worker: Worker, store: SqlRecordStore, job_id: str, timeout: float = 10) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await worker.run_once()
        job = store.jobs.get("t", job_id)
        assert job is not None
        if job.status.finished:
            return job
        await asyncio.sleep(0.01)
    raise AssertionError("job did not finish")


async def test_flaky_job_retries_with_backoff_then_completes(store: SqlRecordStore) -> None:
    calls: list[float] = []

    async def flaky(job: Job, context: TaskContext) -> dict[str, Any]:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise RuntimeError(f"transient {len(calls)}")
        return {"ok": True}

    worker = Worker(store.jobs, {"flaky": flaky}, lease_seconds=5, poll_seconds=0.01, backoff_seconds=0.1)
    job = await _drain(worker, store, _enqueue(store, "flaky"))
    assert job.status is JobStatus.COMPLETED and job.result == {"ok": True} and job.attempts == 3
    assert calls[1] - calls[0] >= 0.1 and calls[2] - calls[1] >= 0.2


async def test_job_failing_every_attempt_ends_dead_with_its_error(store: SqlRecordStore) -> None:
    async def broken(job: Job, context: TaskContext) -> dict[str, Any]:
        raise ValueError("bad input row 7")

    worker = Worker(store.jobs, {"broken": broken}, lease_seconds=5, poll_seconds=0.01, backoff_seconds=0.0)
    job = await _drain(worker, store, _enqueue(store, "broken", max_attempts=2))
    assert job.status is JobStatus.DEAD and job.attempts == 2
    assert job.error == "ValueError: bad input row 7"


async def test_unknown_kind_is_dead_at_once(store: SqlRecordStore) -> None:
    worker = Worker(store.jobs, {}, lease_seconds=5, poll_seconds=0.01, backoff_seconds=0.0)
    job = await _drain(worker, store, _enqueue(store, "mystery", max_attempts=5))
    assert job.status is JobStatus.DEAD and job.attempts == 1 and "mystery" in (job.error or "")


async def test_lease_is_kept_alive_while_a_long_job_runs(store: SqlRecordStore) -> None:
    async def slow(job: Job, context: TaskContext) -> dict[str, Any]:
        await asyncio.sleep(0.8)
        return {}

    worker = Worker(store.jobs, {"slow": slow}, lease_seconds=0.3, poll_seconds=0.01, backoff_seconds=0.0)
    job_id = _enqueue(store, "slow")
    run = asyncio.create_task(worker.run_once())
    await asyncio.sleep(0.5)
    assert store.jobs.claim("intruder", now=time.time(), lease_seconds=1) is None
    await run
    finished = store.jobs.get("t", job_id)
    assert finished is not None and finished.status is JobStatus.COMPLETED and finished.attempts == 1


async def test_stuck_job_is_cancelled_at_shutdown_and_resumed_by_the_next_worker(
    store: SqlRecordStore,
) -> None:
    attempts: list[int] = []

    async def sticky(job: Job, context: TaskContext) -> dict[str, Any]:
        attempts.append(job.attempts)
        if job.attempts == 1:
            await asyncio.Event().wait()  # never returns: a handler stuck on a dependency
        return {"attempt": job.attempts}

    job_id = _enqueue(store, "sticky")
    stop = asyncio.Event()
    first = Worker(store.jobs, {"sticky": sticky}, lease_seconds=0.3, poll_seconds=0.01, backoff_seconds=0.0)
    task = asyncio.create_task(first.run(stop))
    while not attempts:
        await asyncio.sleep(0.01)
    stop.set()
    started = time.monotonic()
    await finish_within([task], grace_seconds=0.2)
    assert task.cancelled() and time.monotonic() - started < 2
    stuck = store.jobs.get("t", job_id)
    assert stuck is not None and stuck.status is JobStatus.PROCESSING
    second = Worker(store.jobs, {"sticky": sticky}, lease_seconds=0.3, poll_seconds=0.01, backoff_seconds=0.0)
    await asyncio.sleep(0.4)
    job = await _drain(second, store, job_id)
    assert job.status is JobStatus.COMPLETED and job.result == {"attempt": 2}


async def test_a_worker_waits_longer_while_its_store_stays_down(tmp_path: Path) -> None:
    # A directory is no database file: every claim fails with BackendUnavailable, as in an outage.
    (tmp_path / "not-a-file").mkdir()
    broken = SqlRecordStore.sqlite(tmp_path / "not-a-file")
    worker = Worker(broken.jobs, {}, lease_seconds=5, poll_seconds=0.02, backoff_seconds=0.0)
    stop = asyncio.Event()
    with capture_logs() as logs:
        task = asyncio.create_task(worker.run(stop))
        await asyncio.sleep(1.3)
        stop.set()
        await asyncio.wait_for(task, 10)
    broken.close()

    failures = [entry for entry in logs if entry["event"] == "worker_store_unavailable"]
    # At the plain 20 ms poll that would be ~65 lines; doubling waits (20, 40, 80 ... ms) give about 7.
    assert 3 <= len(failures) <= 10, len(failures)
    waits = [entry["retry_in"] for entry in failures]
    assert waits == sorted(waits) and waits[1] == 2 * waits[0]


def test_outage_waits_double_up_to_their_cap_and_reset_once_the_backend_answers() -> None:
    outage = OutageBackoff(0.5, max_wait=3.0)
    assert outage.wait == 0.5 and outage.succeeded() is False
    assert [outage.failed() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert outage.succeeded() is True and outage.wait == 0.5 and outage.failures == 0
