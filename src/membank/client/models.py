"""Typed answers of the API: pydantic models of the SDK's own.

Why pydantic rather than TypedDicts: it is already a dependency of the package the SDK ships in, it checks
what the server sent (an SDK that met a different shape fails at the call, not later in the caller's code),
turns timestamps into `datetime`s and gives attribute access and `model_dump()`. The SDK does not import the
server's schemas (it stands alone, and a server-side change must not silently change the client's types):
these repeat the parts of docs/openapi.json that callers rely on. Every model keeps fields it does not
declare (`extra="allow"`), so a newer server's additions are kept, not refused. Less-used answers are
plain dicts (`JSON`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "JSON",
    "ApiKey",
    "Batch",
    "BatchAccepted",
    "CitedMemory",
    "Context",
    "IssuedKey",
    "Job",
    "JobItem",
    "JobItems",
    "JobProgress",
    "Memory",
    "MemoryDeleted",
    "MemoryHistory",
    "MemoryPage",
    "MemoryStats",
    "MemoryVersion",
    "SearchHit",
    "SearchResult",
    "Session",
    "SessionPage",
]

JSON = dict[str, Any]
JobStatus = Literal["queued", "processing", "completed", "failed", "dead"]


class Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class Memory(Model):
    """One version of a memory (`valid_to`, `superseded_by` and `deleted_at` say whether it is current)."""

    id: str
    user_id: str
    content: str
    memory_type: str
    importance: int
    tags: list[str]
    entities: list[str]
    metadata: dict[str, Any]
    summary: str | None
    agent_id: str | None
    session_id: str | None
    slot: str | None
    source_refs: list[dict[str, Any]]
    content_hash: str
    version: int
    supersedes: str | None
    superseded_by: str | None
    valid_from: datetime
    valid_to: datetime | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class SearchHit(Memory):
    score: float
    score_details: dict[str, Any] | None = None


class SearchResult(Model):
    query: str
    memories: list[SearchHit]
    total: int
    degraded: bool
    degradation: dict[str, Any] | None
    timings: dict[str, Any] | None = None


class MemoryPage(Model):
    """One page of a user's memories: `total` of them in all, this page from `offset`."""

    memories: list[Memory]
    total: int
    limit: int
    offset: int


class MemoryVersion(Model):
    id: str
    memory_id: str
    version: int
    event: str
    actor: str
    old_content: str | None
    new_content: str | None
    changes: dict[str, Any]
    extractor: str | None
    prompt_version: str | None
    job_id: str | None
    created_at: datetime


class MemoryHistory(Model):
    memory_id: str
    history: list[MemoryVersion]


class MemoryDeleted(Model):
    id: str
    deleted: bool
    erased: bool
    erased_versions: int | None = None
    valid_to: datetime | None = None


class MemoryStats(Model):
    user_id: str
    total: int
    active: int
    superseded: int
    deleted: int
    by_type: dict[str, int]
    average_importance: float | None
    first_created_at: float | None
    last_created_at: float | None


class CitedMemory(Model):
    citation: int
    id: str
    content: str
    memory_type: str
    score: float
    valid_from: datetime


class Context(Model):
    """synthesize_context's answer: `context` is the text to put in a prompt, citing `memories`."""

    user_id: str
    query: str
    context: str
    memories: list[CitedMemory]
    synthesizer: str
    cached: bool
    degraded: bool
    degradation: dict[str, Any] | None
    prompt_version: str | None


class JobProgress(Model):
    done: int
    total: int
    percent: float | None


class Job(Model):
    """A background job (batch import, conversation processing, extraction): poll it or `wait_for` it."""

    id: str
    kind: str
    status: JobStatus
    progress: JobProgress
    result: dict[str, Any] | None
    error: str | None
    attempts: int
    max_attempts: int
    priority: int
    batch_id: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        """Completed, or dead (failed for good); `failed` jobs are retried."""
        return self.status in ("completed", "dead")


class JobItem(Model):
    index: int
    status: str
    memory_id: str | None
    error: str | None = None
    reason: str | None = None


class JobItems(Model):
    """One page of what a job did, item by item."""

    job_id: str
    kind: str
    status: str
    items: list[JobItem]
    total: int
    limit: int
    offset: int


class BatchAccepted(Model):
    """A batch of conversations accepted: one extraction job each, followed as a batch."""

    batch_id: str
    job_count: int
    job_ids: list[str]


class Batch(Model):
    batch_id: str
    user_id: str
    status: str
    job_count: int
    jobs_by_status: dict[str, int]
    counts: dict[str, int]
    jobs: list[Job]
    options: dict[str, Any]
    created_at: datetime


class ApiKey(Model):
    """An API key's record (never its secret)."""

    id: str
    name: str
    prefix: str
    scopes: list[str]
    roles: list[str] | None
    user_ids: list[str] | None
    team_ids: list[str] | None
    service_account_id: str | None
    allowed_ips: list[str] | None
    require_signature: bool
    requests: int
    created_at: str | None
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None
    previous_secret_valid_until: str | None


class IssuedKey(ApiKey):
    """A key just created or rotated: `key` is the secret, shown in this answer only."""

    key: str = Field(repr=False)  # kept out of reprs, so that a logged model does not leak it


class Session(Model):
    """A conversation session of an end user."""

    user_id: str
    session_id: str
    summary: str
    key_facts: list[str]
    fact_count: int
    turn_count: int
    recent_messages: list[dict[str, Any]]
    started_at: datetime | None
    last_message_at: datetime | None
    updated_at: datetime | None


class SessionPage(Model):
    sessions: list[Session]
    limit: int
    offset: int
