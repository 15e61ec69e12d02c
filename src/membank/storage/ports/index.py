"""The vector index port: derived from the system of record, so it can be cleared and rebuilt
(`membank reindex`) and compared with it (`membank check`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from membank.models import Memory, Scope, to_epoch
from membank.storage.filters import FilterNode

__all__ = ["IndexDocument", "IndexHit", "IndexResult", "VectorIndex", "sync_token"]


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
    """Dense + keyword index over memories, filtered by the filter tree of `storage.filters`."""

    @property
    def shared(self) -> bool:
        """True when any number of processes use the index at once (pgvector, a Qdrant server): `membank
        reindex` and `check` then run online beside serving processes, never clearing it. False when one
        process owns it (Qdrant Edge's files): those commands are refused beside a server and rebuild it
        from scratch."""

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
