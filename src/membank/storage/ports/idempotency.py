"""Responses of POSTs made with an Idempotency-Key, reserved before the work and replayed on retry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["IdempotencyRepository", "StoredResponse"]


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
