"""The outbox: memories whose derived indexes must be brought up to date, written with each memory write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Outbox", "OutboxBacklog", "OutboxItem"]


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    memory_id: str
    tenant_id: str
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    """How far the derived indexes are behind: items not yet applied and when the oldest was written."""

    pending: int
    oldest_created_at: float | None


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

    def backlog(self) -> OutboxBacklog:
        """Items not yet applied and the write time of the oldest (None when there is none)."""

    def has_pending(self, tenant_id: str) -> bool:
        """Whether any write of the tenant has not reached the index yet."""
