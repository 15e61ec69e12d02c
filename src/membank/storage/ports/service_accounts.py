"""Service accounts: the non-human owners of API keys."""

from __future__ import annotations

from typing import Protocol

from membank.models.account import ServiceAccount

__all__ = ["ServiceAccountRepository"]


class ServiceAccountRepository(Protocol):
    """A tenant's service accounts. Names are unique per tenant."""

    def create(self, account: ServiceAccount) -> bool:
        """Store a new account; False when the tenant already has one of that name."""

    def get(self, tenant_id: str, account_id: str) -> ServiceAccount | None:
        """The tenant's account with that id, or None."""

    def list(self, tenant_id: str) -> list[ServiceAccount]:
        """The tenant's accounts, oldest first."""

    def disable(self, tenant_id: str, account_id: str, at: float) -> bool:
        """Disable an active account; False if unknown or already disabled."""
