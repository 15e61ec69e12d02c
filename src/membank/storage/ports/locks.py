"""Named leases shared by every process: on the system of record, or on Redis when one is configured."""

from __future__ import annotations

from typing import Protocol

__all__ = ["LockRepository"]


class LockRepository(Protocol):
    """Named leases shared by every process (e.g. one consolidation per user at a time). Expiry is judged on
    the caller's clock (`now`, seconds since the epoch)."""

    def acquire(self, name: str, owner: str, now: float, ttl: float) -> bool:
        """Take the lock if free or expired (or already ours, extending it); False if someone holds it."""

    def holder(self, name: str, now: float) -> str | None:
        """The owner of the unexpired lease on `name` at `now`, or None when it is free."""

    def release(self, name: str, owner: str) -> None:
        """Release the lock if `owner` holds it."""
