"""The history of memories: one entry per event of a lineage, written by the memory writes themselves."""

from __future__ import annotations

from typing import Protocol

from membank.models import MemoryVersion

__all__ = ["VersionRepository"]


class VersionRepository(Protocol):
    """Reads the history that every write of `MemoryRepository` records in its own transaction."""

    def history(self, tenant_id: str, lineage_id: str) -> list[MemoryVersion]:
        """Every history entry of a lineage, oldest first."""
