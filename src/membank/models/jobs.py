"""Durable jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal


class JobStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    DEAD = "dead"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.DEAD)


@dataclass(slots=True)
class Job:
    """A unit of slow work; `failed` means it will be retried, `dead` that it will not. Jobs sharing a
    `sequence_key` (e.g. one user's conversations) run one at a time, in the order they were queued."""

    id: str
    tenant_id: str
    kind: str
    status: JobStatus
    payload: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    run_after: datetime
    attempts: int = 0
    max_attempts: int = 5
    progress_done: int = 0
    progress_total: int = 0
    result: dict[str, Any] | None = None
    error: str | None = None
    idempotency_key: str | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    actor: str = ""
    checkpoint: dict[str, Any] = field(default_factory=dict)
    batch_id: str | None = None
    priority: int = 0
    sequence_key: str | None = None
    # The W3C traceparent of the request that queued the job: its run continues that trace.
    trace_parent: str | None = None


JobItemStatus = Literal["created", "skipped", "failed"]


@dataclass(frozen=True, slots=True)
class JobItem:
    """What became of one input item of a job (a memory of a batch import), by its position in the input:
    created (with the new memory's id), skipped (with the reason) or failed (with the error)."""

    index: int
    status: JobItemStatus
    memory_id: str | None = None
    reason: str | None = None
    error: str | None = None
