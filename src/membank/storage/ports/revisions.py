"""The per-user revision counter: what caches of derived answers (synthesised contexts) key on."""

from __future__ import annotations

from typing import Protocol

__all__ = ["RevisionCounter"]


class RevisionCounter(Protocol):
    """Bumped by every write of `MemoryRepository` to a user's memories, in the write's transaction."""

    def revision(self, tenant_id: str, user_id: str) -> int:
        """A number that grows with every write to the user's memories (0 before the first)."""
