"""Storage ports. Services import these, never a backend.

The system of record (`RecordStore`) owns every memory, version, job, key and outbox row. The `VectorIndex`
is derived from it: it can be cleared and rebuilt (`membank reindex`) and compared (`membank check`).
Every method that touches tenant data takes the tenant (or a `Scope`) explicitly: there is no unscoped query.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from membank.models import ApiKey, Job, JobItem, Memory, MemoryVersion, Provenance, Scope, Tenant, to_epoch
from membank.search.filters import FilterNode


@dataclass(slots=True)
class IndexDocument:
    """What the vector index keeps of a memory: vector, text for keyword search, filterable fields."""

    id: str
    tenant_id: str
    user_id: str
    vector: Sequence[float]
    text: str
    memory_type: str
    importance: int
    created_at: float
    updated_at: float
    valid_from: float
    valid_to: float | None
    sync_token: str
    agent_id: str | None = None
    session_id: str | None = None
    tags: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_memory(cls, memory: Memory, vector: Sequence[float]) -> IndexDocument:
        return cls(
            id=memory.id,
            tenant_id=memory.tenant_id,
            user_id=memory.user_id,
            agent_id=memory.agent_id,
            session_id=memory.session_id,
            vector=vector,
            text=memory.content,
            memory_type=memory.memory_type,
            importance=memory.importance,
            created_at=to_epoch(memory.created_at),
            updated_at=to_epoch(memory.updated_at),
            valid_from=to_epoch(memory.valid_from),
            valid_to=to_epoch(memory.valid_to) if memory.valid_to else None,
            sync_token=sync_token(memory),
            tags=list(memory.tags),
            entities=list(memory.entities),
            metadata=dict(memory.metadata),
        )


def sync_token(memory: Memory) -> str:
    """Changes whenever anything the index keeps of the memory changes."""
    return f"{memory.version}:{to_epoch(memory.updated_at):.6f}"


@dataclass(frozen=True, slots=True)
class IndexHit:
    """One candidate: `score` is cosine similarity (dense) or BM25 (keyword); rank starts at 1."""

    id: str
    score: float
    rank: int
    importance: int
    created_at: float


@dataclass(frozen=True, slots=True)
class IndexResult:
    dense: list[IndexHit]
    keyword: list[IndexHit]


class VectorIndex(Protocol):
    """Dense + keyword index over memories, filtered by the filter language of `search.filters`."""

    def upsert(self, documents: Sequence[IndexDocument]) -> None:
        """Insert or replace documents by id."""

    def delete(self, ids: Sequence[str]) -> None:
        """Remove documents by id; unknown ids are ignored."""

    def search(
        self,
        scope: Scope,
        vector: Sequence[float],
        text: str,
        *,
        filter: FilterNode | None,
        as_of: float,
        limit: int,
    ) -> IndexResult:
        """Top `limit` dense and keyword candidates within `scope` (tenant always; user, agent, session
        when set), valid at `as_of` (valid_from <= as_of < valid_to, a missing valid_to is open-ended),
        and matching `filter`. Keyword search returns nothing for a query with no indexable term."""

    def filter_ids(self, scope: Scope, *, filter: FilterNode | None, as_of: float | None) -> set[str]:
        """Every id in `scope` that matches `filter` (and is valid at `as_of` when given)."""

    def entries(self) -> Iterator[tuple[str, str]]:
        """(id, sync_token) of every document, for consistency checks."""

    def tokens(self, ids: Sequence[str]) -> dict[str, str]:
        """The sync token of each of these documents the index holds (absent ids are left out)."""

    def count(self) -> int:
        """Number of documents."""

    def clear(self) -> str | None:
        """Remove every document (before a full rebuild). An index whose data could not be read is set
        aside rather than deleted: returns where it was kept (None when nothing was kept)."""

    def optimize(self) -> bool:
        """Build or merge search structures now; may block for long (maintenance, not the hot path)."""

    def ping(self) -> None:
        """Raise `IndexUnavailable` (its ``cause`` says why) unless the index can serve reads and take
        writes now. Every method raises `IndexUnavailable` for any failure of the index or its engine."""

    def close(self) -> None:
        """Flush and release resources."""


@dataclass(frozen=True, slots=True)
class JobProgress:
    """Job progress written in the same transaction as the work it counts (exactly-once chunks)."""

    job_id: str
    worker_id: str
    done: int
    checkpoint: dict[str, Any]
    items: Sequence[JobItem] = ()  # the outcomes of the input items this progress counts


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    memory_id: str
    tenant_id: str
    attempts: int


@dataclass(frozen=True, slots=True)
class MemoryPage:
    memories: list[Memory]
    total: int


class MemoryRepository(Protocol):
    """Memories, their embeddings and their history. Every write also records an outbox row."""

    def insert(
        self,
        memories: Sequence[Memory],
        vectors: Sequence[Sequence[float]],
        model_id: str,
        *,
        actor: str,
        provenance: Provenance | None = None,
        progress: JobProgress | None = None,
    ) -> None:
        """Store new memories with their vectors and a CREATE history entry each, in one transaction.
        With `progress`, the job's progress is saved in that transaction too (only if the worker still
        holds the job's lease; otherwise nothing is written and LeaseLost is raised)."""

    def get(self, tenant_id: str, memory_id: str) -> Memory | None:
        """One memory (soft-deleted included) or None."""

    def get_many(self, tenant_id: str, ids: Sequence[str]) -> dict[str, Memory]:
        """Memories of the tenant by id; unknown ids are absent."""

    def supersede(
        self,
        old: Memory,
        new: Memory,
        vector: Sequence[float],
        model_id: str,
        *,
        actor: str,
        provenance: Provenance | None = None,
    ) -> None:
        """Store `new` and close `old` (valid_to, superseded_by) in one transaction; history on both."""

    def update_fields(
        self, memory: Memory, changes: dict[str, Any], *, actor: str, provenance: Provenance | None = None
    ) -> None:
        """Persist in-place field changes already applied to `memory` (version bumped by the caller)."""

    def invalidate(self, memory: Memory, *, actor: str, provenance: Provenance | None = None) -> None:
        """Persist a soft delete already applied to `memory` (valid_to, deleted_at set)."""

    def erase(self, tenant_id: str, lineage_id: str, *, actor: str) -> list[str]:
        """Hard delete every version of a lineage and blank the content kept in its history; returns
        the ids erased."""

    def history(self, tenant_id: str, lineage_id: str) -> list[MemoryVersion]:
        """Every history entry of a lineage, oldest first."""

    def list_for_user(
        self,
        tenant_id: str,
        user_id: str,
        *,
        memory_type: str | None,
        include_invalid: bool,
        at: float,
        sort_by: str,
        descending: bool,
        limit: int,
        offset: int,
    ) -> MemoryPage:
        """A page of a user's memories (valid at `at` unless include_invalid)."""

    def stats(self, tenant_id: str, user_id: str, *, at: float) -> dict[str, Any]:
        """Counts by type and state, importance, first/last times."""

    def vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """Stored vectors by memory id."""

    def existing_hashes(self, tenant_id: str, user_id: str, hashes: Sequence[str], *, at: float) -> set[str]:
        """Which of the content hashes a user already has among memories valid at `at`."""

    def valid_in_slot(self, tenant_id: str, user_id: str, slot: str, *, at: float) -> list[Memory]:
        """A user's memories valid at `at` that fill `slot` (subject/attribute), newest first."""

    def valid_with_hash(self, tenant_id: str, user_id: str, content_hash: str, *, at: float) -> list[Memory]:
        """A user's memories valid at `at` with that normalised content hash."""

    def valid_vectors(
        self, tenant_id: str, user_id: str, *, at: float, limit: int
    ) -> tuple[list[str], list[list[float]]]:
        """Ids and vectors of a user's newest `limit` memories valid at `at` (similarity without an index)."""

    def revision(self, tenant_id: str, user_id: str) -> int:
        """A number that grows with every write to the user's memories (0 before the first)."""

    def iter_all(self, batch_size: int) -> Iterator[list[Memory]]:
        """Every stored memory of every tenant, in batches (for reindex and check; admin only)."""

    def entries(self) -> Iterator[tuple[str, str]]:
        """(id, sync_token) of every stored memory."""

    def count_indexable(self) -> int:
        """Number of memories with a stored vector: what a complete vector index holds."""

    def newest_entries(self, limit: int) -> list[tuple[str, str]]:
        """(id, sync_token) of the `limit` memories stored last (a cheap probe of an index's freshness)."""


class Outbox(Protocol):
    """Memories whose derived indexes must be brought up to date."""

    def due(self, now: float, limit: int) -> list[OutboxItem]:
        """Items ready to apply, oldest first."""

    def complete(self, ids: Sequence[int]) -> None:
        """Forget applied items."""

    def retry_later(self, ids: Sequence[int], error: str, next_attempt_at: float) -> None:
        """Record a failed attempt and when to try again."""

    def items_for(self, memory_ids: Sequence[str]) -> list[OutboxItem]:
        """Pending items of these memories, oldest first."""

    def enqueue(self, items: Sequence[tuple[str, str]]) -> None:
        """Add (tenant_id, memory_id) items, e.g. found by a consistency check."""

    def pending(self) -> int:
        """Number of items not yet applied."""

    def has_pending(self, tenant_id: str) -> bool:
        """Whether any write of the tenant has not reached the index yet."""


class JobRepository(Protocol):
    """Durable jobs with leases, retries and idempotency keys."""

    def enqueue(self, job: Job) -> tuple[Job, bool]:
        """Store a queued job; with an idempotency key already used by the tenant, return that job and False."""

    def get(self, tenant_id: str, job_id: str) -> Job | None:
        """One job of the tenant."""

    def claim(self, worker_id: str, now: float, lease_seconds: float) -> Job | None:
        """Lease the oldest runnable job: queued or failed and due, or processing with an expired lease."""

    def heartbeat(self, job_id: str, worker_id: str, now: float, lease_seconds: float) -> bool:
        """Extend the lease; False if the worker lost it."""

    def complete(self, job_id: str, worker_id: str, result: dict[str, Any], now: float) -> bool:
        """Mark completed (only by the lease holder)."""

    def fail(self, job_id: str, worker_id: str, error: str, now: float, retry_at: float | None) -> bool:
        """Mark failed (to retry at `retry_at`) or dead (retry_at None), only by the lease holder."""

    def counts(self) -> dict[str, int]:
        """Number of jobs per status."""

    def save_progress(self, progress: JobProgress) -> None:
        """Save progress and checkpoint (only if the worker still holds the lease; else LeaseLost)."""

    def create_batch(self, batch: Batch, jobs: Sequence[Job]) -> None:
        """Store a batch and its queued jobs in one transaction."""

    def get_batch(self, tenant_id: str, batch_id: str) -> tuple[Batch, list[Job]] | None:
        """A batch of the tenant and its jobs (oldest first), or None."""

    def items(self, tenant_id: str, job_id: str, *, limit: int, offset: int) -> tuple[list[JobItem], int]:
        """A page of the recorded items of a job of the tenant by input position, and how many it has."""


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


@dataclass(slots=True)
class SessionState:
    """What MemBank keeps of a conversation session: a rolling summary and the latest messages."""

    tenant_id: str
    user_id: str
    session_id: str
    summary: str
    key_facts: list[str]
    recent_messages: list[dict[str, Any]]
    turn_count: int
    fact_count: int
    started_at: float
    updated_at: float
    last_message_at: float | None = None
    last_job_id: str | None = None


class SessionRepository(Protocol):
    """Conversation sessions, scoped by tenant and user."""

    def get(self, tenant_id: str, user_id: str, session_id: str) -> SessionState | None:
        """One session or None."""

    def save(self, state: SessionState, *, job_id: str) -> bool:
        """Insert or replace the session unless `job_id` already saved it (a retried job); True if saved."""

    def list_for_user(self, tenant_id: str, user_id: str, *, limit: int, offset: int) -> list[SessionState]:
        """A user's sessions, most recently updated first."""


class LockRepository(Protocol):
    """Named leases shared by every process on the store (e.g. one consolidation per user at a time)."""

    def acquire(self, name: str, owner: str, now: float, ttl: float) -> bool:
        """Take the lock if free or expired (or already ours, extending it); False if someone holds it."""

    def release(self, name: str, owner: str) -> None:
        """Release the lock if `owner` holds it."""


@dataclass(frozen=True, slots=True)
class UsageRecord:
    tenant_id: str
    job_id: str | None
    purpose: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    created_at: float


class UsageRepository(Protocol):
    """LLM token usage, for cost reports."""

    def record(self, usage: UsageRecord) -> None:
        """Store one usage record."""

    def summary(self, tenant_id: str, *, since: float) -> list[dict[str, Any]]:
        """Totals per model and purpose since `since`."""


class KeyRepository(Protocol):
    """Tenants and API keys."""

    def ensure_tenant(self, name: str) -> Tenant:
        """The tenant of that name, created if missing."""

    def tenant_by_name(self, name: str) -> Tenant | None:
        """The tenant of that name or None."""

    def tenants(self) -> list[Tenant]:
        """Every tenant, oldest first."""

    def create_key(self, key: ApiKey) -> None:
        """Store a new key."""

    def key_by_prefix(self, prefix: str) -> ApiKey | None:
        """The key with that public prefix."""

    def list_keys(self, tenant_id: str | None) -> list[ApiKey]:
        """Keys of a tenant, or of all tenants."""

    def revoke(self, key_id: str, at: float) -> bool:
        """Revoke a key by id or prefix; False if unknown or already revoked."""

    def touch(self, key_id: str, at: float) -> None:
        """Record a use of the key."""


@dataclass(frozen=True, slots=True)
class StoredResponse:
    request_hash: str
    status: int
    body: dict[str, Any]


class IdempotencyRepository(Protocol):
    """Responses of POSTs made with an Idempotency-Key, replayed on retry."""

    def get(self, tenant_id: str, key: str) -> StoredResponse | None:
        """The stored response for the key."""

    def reserve(
        self, tenant_id: str, key: str, request_hash: str, now: float, stale_after: float
    ) -> StoredResponse | None:
        """Claim the key for a request about to run (None), or return what holds it: a stored response, or
        a reservation (status 0) of a request still running. A reservation older than `stale_after` seconds
        (its request died) is taken over."""

    def release(self, tenant_id: str, key: str) -> None:
        """Drop a reservation whose request failed, so that a retry can run."""

    def put(self, tenant_id: str, key: str, response: StoredResponse, now: float) -> None:
        """Store the response of a reserved key (or of a key not reserved yet); a stored one is kept."""


class RecordStore(Protocol):
    """The system of record: one database, several repositories."""

    @property
    def memories(self) -> MemoryRepository:
        """Memories, vectors and history."""

    @property
    def outbox(self) -> Outbox:
        """Pending index updates."""

    @property
    def jobs(self) -> JobRepository:
        """Durable jobs."""

    @property
    def keys(self) -> KeyRepository:
        """Tenants and API keys."""

    @property
    def idempotency(self) -> IdempotencyRepository:
        """Stored idempotent responses."""

    @property
    def sessions(self) -> SessionRepository:
        """Conversation sessions."""

    @property
    def locks(self) -> LockRepository:
        """Named leases."""

    @property
    def usage(self) -> UsageRepository:
        """LLM token usage."""

    def migrate(self) -> list[str]:
        """Apply pending schema migrations."""

    def ping(self) -> None:
        """Raise if the store cannot serve."""

    def close(self) -> None:
        """Release connections."""
