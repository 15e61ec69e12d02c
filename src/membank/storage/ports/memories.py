"""Memories and their embeddings: writes (each with its history entry and outbox row, in one
transaction), tenant-scoped reads and lookups, and the whole-store scans that rebuild and check the index."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from membank.models import Memory, Provenance, Scope
from membank.storage.ports.jobs import JobProgress

__all__ = ["MemoryPage", "MemoryRepository"]


@dataclass(frozen=True, slots=True)
class MemoryPage:
    memories: list[Memory]
    total: int


class MemoryRepository(Protocol):
    """Memories and their embeddings. Every write also records a history entry and an outbox row."""

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

    def with_vectors(self, tenant_id: str, ids: Sequence[str]) -> list[tuple[Memory, list[float]]]:
        """The tenant's memories among `ids` that have a stored vector, each with it: what the vector index
        needs of them, in one read (`get_many` and `vectors` together)."""

    def existing_hashes(self, tenant_id: str, user_id: str, hashes: Sequence[str], *, at: float) -> set[str]:
        """Which of the content hashes a user already has among memories valid at `at`."""

    def valid_in_slot(self, tenant_id: str, user_id: str, slot: str, *, at: float) -> list[Memory]:
        """A user's memories valid at `at` that fill `slot` (subject/attribute), newest first."""

    def valid_with_hash(self, tenant_id: str, user_id: str, content_hash: str, *, at: float) -> list[Memory]:
        """A user's memories valid at `at` with that normalised content hash."""

    def newest_valid(self, scope: Scope, *, at: float, limit: int) -> list[Memory]:
        """The newest `limit` memories in `scope` (its user, agent and session when set) valid at `at`,
        newest first (keyword search without an index)."""

    def valid_vectors(
        self, tenant_id: str, user_id: str, *, at: float, limit: int
    ) -> tuple[list[str], list[list[float]]]:
        """Ids and vectors of a user's newest `limit` memories valid at `at` (similarity without an index)."""

    def iter_all(self, batch_size: int) -> Iterator[list[Memory]]:
        """Every stored memory of every tenant, in batches (for reindex and check; admin only)."""

    def entries(self) -> Iterator[tuple[str, str]]:
        """(id, sync_token) of every stored memory."""

    def count_indexable(self) -> int:
        """Number of memories with a stored vector: what a complete vector index holds."""

    def newest_entries(self, limit: int) -> list[tuple[str, str]]:
        """(id, sync_token) of the `limit` memories stored last (a cheap probe of an index's freshness)."""
