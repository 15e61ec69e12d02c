"""Tenants and their API keys."""

from __future__ import annotations

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
