"""Enqueueing and reading jobs."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from membank.errors import BatchNotFound, JobNotFound
from membank.jobs.worker import JobSignal, first_of
from membank.models import Job, JobStatus, Principal, iso, now_utc
from membank.storage.ports import Batch, RecordStore


class JobService:
    def __init__(self, store: RecordStore, *, max_attempts: int, signal: JobSignal | None = None) -> None:
        self._store = store
        self._max_attempts = max_attempts
        self._signal = signal

    def new_job(
        self,
        principal: Principal,
        kind: str,
        payload: dict[str, Any],
        *,
        total: int,
        idempotency_key: str | None = None,
        batch_id: str | None = None,
        priority: int = 0,
        sequence_key: str | None = None,
    ) -> Job:
        """A queued job, not yet stored."""
        now = now_utc()
        return Job(
            id=str(uuid.uuid4()),
            tenant_id=principal.tenant_id,
            kind=kind,
            status=JobStatus.QUEUED,
            payload=payload,
            created_at=now,
            updated_at=now,
            run_after=now,
            max_attempts=self._max_attempts,
            progress_total=total,
            idempotency_key=idempotency_key,
            actor=principal.subject,
            batch_id=batch_id,
            priority=priority,
            sequence_key=sequence_key,
        )

    async def enqueue_batch(self, batch: Batch, jobs: list[Job]) -> None:
        """Store a batch and its jobs together."""
        await asyncio.to_thread(self._store.jobs.create_batch, batch, jobs)
        self._wake()

    async def get_batch(self, principal: Principal, batch_id: str) -> tuple[Batch, list[Job]]:
        """A batch of the caller's tenant and its jobs."""
        found = await asyncio.to_thread(self._store.jobs.get_batch, principal.tenant_id, batch_id)
        if found is None:
            raise BatchNotFound(f"batch {batch_id} not found")
        return found

    def _wake(self) -> None:
        if self._signal is not None:
            self._signal.notify()

    async def enqueue(
        self,
        principal: Principal,
        kind: str,
        payload: dict[str, Any],
        *,
        total: int,
        idempotency_key: str | None = None,
        sequence_key: str | None = None,
    ) -> tuple[Job, bool]:
        """Queue a job; with an idempotency key already used, return the earlier job and False."""
        job = self.new_job(
            principal, kind, payload, total=total, idempotency_key=idempotency_key, sequence_key=sequence_key
        )
        stored, created = await asyncio.to_thread(self._store.jobs.enqueue, job)
        if created:
            self._wake()
        return stored, created

    async def get(self, principal: Principal, job_id: str) -> Job:
        """A job of the caller's tenant."""
        job = await asyncio.to_thread(self._store.jobs.get, principal.tenant_id, job_id)
        if job is None:
            raise JobNotFound(f"job {job_id} not found")
        return job

    async def wait(self, principal: Principal, job_id: str, *, timeout: float) -> Job:
        """The job once finished (completed or dead), or as it is when `timeout` seconds have passed."""
        deadline = time.monotonic() + timeout
        delay = 0.01
        ended = self._signal.subscribe(ended=True) if self._signal is not None else asyncio.Event()
        try:
            while True:
                ended.clear()
                job = await self.get(principal, job_id)
                remaining = deadline - time.monotonic()
                if job.status.finished or remaining <= 0:
                    return job
                # Woken as soon as any job of this process ends; the poll covers workers of other processes.
                await first_of(ended, timeout=min(delay, remaining))
                delay = min(delay * 1.5, 0.25)
        finally:
            if self._signal is not None:
                self._signal.unsubscribe(ended)


def job_out(job: Job) -> dict[str, Any]:
    """The public JSON form of a job."""
    total = job.progress_total
    return {
        "id": job.id,
        "job_id": job.id,
        "kind": job.kind,
        "status": job.status.value,
        "progress": {
            "done": job.progress_done,
            "total": total,
            "percent": round(100.0 * job.progress_done / total, 1) if total else None,
        },
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "result": job.result,
        "error": job.error,
        "created_at": iso(job.created_at),
        "updated_at": iso(job.updated_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "batch_id": job.batch_id,
        "priority": job.priority,
    }
