"""Enqueueing and reading jobs."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from membank.errors import JobNotFound
from membank.models import Job, JobStatus, Principal, iso, now_utc
from membank.storage.ports import RecordStore


class JobService:
    def __init__(self, store: RecordStore, *, max_attempts: int) -> None:
        self._store = store
        self._max_attempts = max_attempts

    async def enqueue(
        self,
        principal: Principal,
        kind: str,
        payload: dict[str, Any],
        *,
        total: int,
        idempotency_key: str | None = None,
    ) -> tuple[Job, bool]:
        """Queue a job; with an idempotency key already used, return the earlier job and False."""
        now = now_utc()
        job = Job(
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
        )
        return await asyncio.to_thread(self._store.jobs.enqueue, job)

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
        while True:
            job = await self.get(principal, job_id)
            if job.status.finished or time.monotonic() >= deadline:
                return job
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.25)


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
    }
