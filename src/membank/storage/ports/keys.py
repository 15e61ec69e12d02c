"""Tenants and their API keys."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Protocol

from membank.models import ApiKey, Tenant

__all__ = ["KeyRepository"]


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

    def key_by_id(self, tenant_id: str, key_id: str) -> ApiKey | None:
        """The tenant's key with that id (or prefix), or None."""

    def rotate(self, key_id: str, *, secret_hash: str, previous_valid_until: float) -> bool:
        """Give an active key a new secret hash, keeping the current one valid until
        `previous_valid_until`; False if the key is unknown or revoked."""

    def add_usage(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Add request counts per (key id, UTC day `YYYY-MM-DD`)."""

    def usage(self, key_id: str, *, since_day: str) -> list[tuple[str, int]]:
        """(day, requests) of a key from `since_day` on, oldest first."""

    def usage_totals(self, key_ids: Collection[str]) -> dict[str, int]:
        """Total requests per key id (keys never used are left out)."""
