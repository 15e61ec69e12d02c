"""Enqueueing and reading jobs."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from membank.errors import BatchNotFound, JobNotFound
from membank.jobs.schemas import JobItemOut, JobItemsPage
from membank.jobs.worker import JobSignal, first_of
from membank.models import Job, JobStatus, Principal, iso, now_utc
from membank.observability.tracing import current_traceparent
from membank.observability.usage import record_usage
from membank.storage.ports import Batch, JobRepository


class JobService:
    def __init__(
        self,
        jobs: JobRepository,
        *,
        max_attempts: int,
        signal: JobSignal | None = None,
        max_unfinished_per_tenant: int | None = None,
    ) -> None:
        self._jobs = jobs
        self._max_attempts = max_attempts
        self._signal = signal
        self._max_unfinished = max_unfinished_per_tenant

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
            trace_parent=current_traceparent(),
        )

    async def enqueue_batch(self, batch: Batch, jobs: list[Job]) -> None:
        """Store a batch and its jobs together (or none: JobQueueFull past the tenant's bound)."""
        await asyncio.to_thread(self._jobs.create_batch, batch, jobs, max_unfinished=self._max_unfinished)
        record_usage("jobs", len(jobs))
        self._wake()

    async def get_batch(self, principal: Principal, batch_id: str) -> tuple[Batch, list[Job]]:
        """A batch of the caller's tenant and its jobs."""
        found = await asyncio.to_thread(self._jobs.get_batch, principal.tenant_id, batch_id)
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
        """Queue a job; with an idempotency key already used, return the earlier job and False; JobQueueFull
        when the tenant already has its most unfinished jobs."""
        job = self.new_job(
            principal, kind, payload, total=total, idempotency_key=idempotency_key, sequence_key=sequence_key
        )
        stored, created = await asyncio.to_thread(
            self._jobs.enqueue, job, max_unfinished=self._max_unfinished
        )
        if created:
            record_usage("jobs")
            self._wake()
        return stored, created

    async def get(self, principal: Principal, job_id: str) -> Job:
        """A job of the caller's tenant."""
        job = await asyncio.to_thread(self._jobs.get, principal.tenant_id, job_id)
        if job is None:
            raise JobNotFound(f"job {job_id} not found")
        return job

    async def items(self, principal: Principal, job_id: str, *, limit: int, offset: int) -> JobItemsPage:
        """A page of a job's items: a batch import's memories with their outcome, or a conversation job's
        actions; any other kind of job has none."""
        job = await self.get(principal, job_id)
        actions = _actions_of(job)
        if actions is not None:
            items = [
                JobItemOut(index=index, status=action["event"], **_action_fields(action))
                for index, action in enumerate(actions[offset : offset + limit], start=offset)
            ]
            total = len(actions)
        else:
            stored, total = await asyncio.to_thread(
                self._jobs.items, principal.tenant_id, job_id, limit=limit, offset=offset
            )
            items = [JobItemOut.model_validate(item, from_attributes=True) for item in stored]
        return JobItemsPage(
            job_id=job.id,
            kind=job.kind,
            status=job.status.value,
            items=items,
            total=total,
            limit=limit,
            offset=offset,
        )

    async def wait(self, principal: Principal, job_id: str, *, timeout: float) -> Job:
        """The job once finished (completed or dead), or as it is when `timeout` seconds have passed.

        Woken at once when a worker of this process ends a job; a job run by a worker of another process
        (`membank worker`) is seen by polling its status in the store, every 10 ms at first and backing off
        to every 250 ms, so a waiter on any API instance wakes within a quarter second of the end. A poll
        reads the status alone, not the job's payload (a batch import's can be megabytes)."""
        deadline = time.monotonic() + timeout
        delay = 0.01
        ended = self._signal.subscribe(ended=True) if self._signal is not None else asyncio.Event()
        try:
            while True:
                ended.clear()
                status = await asyncio.to_thread(self._jobs.status, principal.tenant_id, job_id)
                if status is None:
                    raise JobNotFound(f"job {job_id} not found")
                remaining = deadline - time.monotonic()
                if status.finished or remaining <= 0:
                    return await self.get(principal, job_id)
                await first_of(ended, timeout=min(delay, remaining))
                delay = min(delay * 1.5, _LONGEST_POLL_SECONDS)
        finally:
            if self._signal is not None:
                self._signal.unsubscribe(ended)


_LONGEST_POLL_SECONDS = 0.25


# The result fields that carry no memory content: what a key with `jobs:read` alone sees of a job. Any other
# field (a conversation job's actions with their old and new text, what a job records per message) also
# needs `memories:read`, and so do a job's items and the detail of its error.
SUMMARY_RESULT_FIELDS = frozenset(
    {
        "user_id",
        "session_id",
        "extractor",
        "prompt_version",
        "usage",
        "turns",
        "counts",
        "rejected_facts",
        "created",
        "skipped",
        "failed",
        "total",
        "items",
    }
)
# A conversation job's result shows its first actions; GET /jobs/{id}/items pages through all of them.
INLINE_ACTIONS = 100


def job_out(job: Job, *, content: bool) -> dict[str, Any]:
    """The public JSON form of a job; without `content` (the caller lacks memories:read) the fields that
    carry memory text are left out and named in `withheld`."""
    total = job.progress_total
    result, withheld = _visible_result(job, content)
    error = job.error
    if error is not None and not content:
        error = error.split(":", 1)[0]  # the exception's name; its message may quote memory text
        withheld.append("error")
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
        "result": result,
        "error": error,
        "withheld": withheld,
        "created_at": iso(job.created_at),
        "updated_at": iso(job.updated_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "batch_id": job.batch_id,
        "priority": job.priority,
    }


def _visible_result(job: Job, content: bool) -> tuple[dict[str, Any] | None, list[str]]:
    result = job.result
    if result is None:
        return None, []
    if not content:
        visible = {key: value for key, value in result.items() if key in SUMMARY_RESULT_FIELDS}
        return visible, sorted(f"result.{key}" for key in result.keys() - visible.keys())
    actions = result.get("actions")
    if isinstance(actions, list):
        result = {
            **result,
            "actions": actions[:INLINE_ACTIONS],
            "actions_truncated": len(actions) > INLINE_ACTIONS,
            "items": f"/api/v1/jobs/{job.id}/items",
        }
    return result, []


def _actions_of(job: Job) -> list[dict[str, Any]] | None:
    """A conversation job's actions so far (all of them once it completed); None for a job without any."""
    source = job.result if job.result is not None else job.checkpoint
    actions = source.get("actions")
    return actions if isinstance(actions, list) else None


def _action_fields(action: dict[str, Any]) -> dict[str, Any]:
    return {
        "memory_id": action.get("memory_id"),
        "reason": action.get("reason"),
        "old": action.get("old"),
        "new": action.get("new"),
        "source": action.get("source") or None,
    }
