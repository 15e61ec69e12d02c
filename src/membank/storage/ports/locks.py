"""Named leases shared by every process on the system of record."""

from __future__ import annotations

from typing import Protocol

__all__ = ["LockRepository"]


class LockRepository(Protocol):
    """Named leases shared by every process on the store (e.g. one consolidation per user at a time)."""

    def acquire(self, name: str, owner: str, now: float, ttl: float) -> bool:
        """Take the lock if free or expired (or already ours, extending it); False if someone holds it."""

    def release(self, name: str, owner: str) -> None:
        """Release the lock if `owner` holds it."""
