"""A tenant's own authentication policy: who may register, with which role, and whether every account needs
a second factor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["TenantPolicy", "TenantPolicyRepository"]


@dataclass(frozen=True, slots=True)
class TenantPolicy:
    """`registration_email_domains` empty: any domain may register (when registration is allowed)."""

    tenant_id: str
    allow_registration: bool = False
    registration_role: str = "user"
    registration_email_domains: tuple[str, ...] = ()
    mfa_required: bool = False
    updated_at: float | None = None  # None: never set, the defaults apply


class TenantPolicyRepository(Protocol):
    def get(self, tenant_id: str) -> TenantPolicy:
        """The tenant's policy; the defaults when none was ever set."""

    def put(self, policy: TenantPolicy) -> None:
        """Store (create or replace) the tenant's policy."""
