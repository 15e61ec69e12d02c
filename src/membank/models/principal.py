"""Who is calling: tenants, API keys and the principal a request acts as."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

ALL_SCOPES = ("memories:read", "memories:write", "jobs:read", "admin")


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    created_at: datetime


@dataclass(slots=True)
class ApiKey:
    """An API key as stored: only a hash of the secret, plus a public prefix for lookup."""

    id: str
    tenant_id: str
    name: str
    prefix: str
    secret_hash: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """The identity a request acts as. `kind` leaves room for users (JWT) next to API keys."""

    tenant_id: str
    subject: str
    kind: str = "api_key"
    scopes: frozenset[str] = field(default_factory=frozenset)

    def can(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes
