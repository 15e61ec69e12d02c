"""Durable jobs: the queue with leases, retries, idempotency keys, batches and per-item outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from membank.models import Job, JobItem, JobStatus

__all__ = ["Batch", "JobProgress", "JobQueueStats", "JobRepository"]


@dataclass(frozen=True, slots=True)
class JobProgress:
    """Job progress written in the same transaction as the work it counts (exactly-once chunks)."""

    job_id: str
    worker_id: str
    done: int
    checkpoint: dict[str, Any]
    items: Sequence[JobItem] = ()  # the outcomes of the input items this progress counts


@dataclass(frozen=True, slots=True)
class Batch:
    """Jobs submitted together (one per conversation of a batch request)."""

    id: str
    tenant_id: str
    user_id: str
    job_count: int
    options: dict[str, Any]
    actor: str
    created_at: float


@dataclass(frozen=True, slots=True)
class JobQueueStats:
    """The jobs of one kind in one status, and when the oldest of them was queued."""

    kind: str
    status: str
    count: int
    oldest_created_at: float


class JobRepository(Protocol):
    """Durable jobs with leases, retries and idempotency keys."""

    def enqueue(self, job: Job, *, max_unfinished: int | None = None) -> tuple[Job, bool]:
        """Store a queued job; with an idempotency key already used by the tenant, return that job and False.
        Raises JobQueueFull (storing nothing) when the tenant would have more than `max_unfinished`
        unfinished (queued, processing or failed) jobs."""

    def get(self, tenant_id: str, job_id: str) -> Job | None:
        """One job of the tenant."""

    def status(self, tenant_id: str, job_id: str) -> JobStatus | None:
        """The status of one job of the tenant (one small read, for waiters that poll), or None."""

    def claim(self, worker_id: str, now: float, lease_seconds: float) -> Job | None:
        """Lease a runnable job (queued or failed and due, or processing with an expired lease): the first in
        priority, due time and queue order of the tenant whose turn came least recently, so that one
        tenant's backlog does not hold back another tenant's jobs."""

    def others_waiting(self, tenant_id: str, now: float) -> bool:
        """Whether a tenant other than `tenant_id` has a job runnable at `now` (a long job then gives way)."""

    def release(self, job_id: str, worker_id: str, now: float) -> bool:
        """Put a leased job back in the queue, due now, with its progress and checkpoint, without counting
        the claim as an attempt (only by the lease holder; False otherwise)."""

    def heartbeat(self, job_id: str, worker_id: str, now: float, lease_seconds: float) -> bool:
        """Extend the lease; False if the worker lost it."""

    def complete(self, job_id: str, worker_id: str, result: dict[str, Any], now: float) -> bool:
        """Mark completed (only by the lease holder)."""

    def fail(self, job_id: str, worker_id: str, error: str, now: float, retry_at: float | None) -> bool:
        """Mark failed (to retry at `retry_at`) or dead (retry_at None), only by the lease holder."""

    def counts(self) -> dict[str, int]:
        """Number of jobs per status."""

    def queue_stats(self) -> list[JobQueueStats]:
        """Number of jobs and the oldest one's queue time per kind and status."""

    def save_progress(self, progress: JobProgress) -> None:
        """Save progress and checkpoint (only if the worker still holds the lease; else LeaseLost)."""

    def create_batch(self, batch: Batch, jobs: Sequence[Job], *, max_unfinished: int | None = None) -> None:
        """Store a batch and its queued jobs in one transaction (or nothing, raising JobQueueFull, when the
        tenant would have more than `max_unfinished` unfinished jobs)."""

    def get_batch(self, tenant_id: str, batch_id: str) -> tuple[Batch, list[Job]] | None:
        """A batch of the tenant and its jobs (oldest first), or None."""

    def items(self, tenant_id: str, job_id: str, *, limit: int, offset: int) -> tuple[list[JobItem], int]:
        """A page of the recorded items of a job of the tenant by input position, and how many it has."""
