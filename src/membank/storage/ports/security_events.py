"""The append-only log of security events (logins, lockouts, MFA, token reuse, key and role changes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["SecurityEvent", "SecurityEventLog"]


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    """One security event. `outcome` is ok, denied or failed; `actor` who acted (a principal's subject, an
    email tried at login, `system`), `target` what it acted on (an account, key, session, role)."""

    kind: str
    outcome: str
    actor: str
    at: float
    tenant_id: str | None = None
    target: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


class SecurityEventLog(Protocol):
    """Append and read; there is no update or delete."""

    def append(self, event: SecurityEvent) -> int:
        """Store one event; its id (ids grow with each append)."""

    def list(
        self,
        tenant_id: str | None,
        *,
        kind: str | None = None,
        since: float | None = None,
        limit: int = 100,
        after_id: int | None = None,
    ) -> list[SecurityEvent]:
        """Events oldest first (a tenant's, or all when None), after `after_id` for paging."""
