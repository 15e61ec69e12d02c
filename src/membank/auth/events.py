"""Writing security events: every auth decision worth an audit trail goes through here."""

from __future__ import annotations

import asyncio
import builtins
import time
from dataclasses import dataclass
from typing import Any

import structlog

from membank.models import Principal
from membank.observability.metrics import AUDIT_EVENTS
from membank.storage.ports.security_events import SecurityEvent, SecurityEventLog

log = structlog.get_logger("membank.security")


@dataclass(frozen=True, slots=True)
class RequestOrigin:
    """Where a request came from, as recorded with its security events."""

    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


class SecurityEvents:
    """Appends security events to the log and mirrors each as a log line (without details that could carry
    secrets: callers put only identifiers and reasons in `details`)."""

    def __init__(self, log_: SecurityEventLog) -> None:
        self._log = log_

    def record(
        self,
        kind: str,
        *,
        outcome: str,
        actor: str,
        tenant_id: str | None,
        target: str | None = None,
        origin: RequestOrigin | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append one event (blocking: call from a worker thread, or use `arecord`)."""
        origin = origin or RequestOrigin()
        event = SecurityEvent(
            kind=kind,
            outcome=outcome,
            actor=actor,
            at=time.time(),
            tenant_id=tenant_id,
            target=target,
            ip=origin.ip,
            user_agent=origin.user_agent,
            request_id=origin.request_id,
            details=details or {},
        )
        self._log.append(event)
        AUDIT_EVENTS.labels(kind, outcome).inc()
        log.info("security_event", kind=kind, outcome=outcome, tenant_id=tenant_id, target=target)

    def record_by(
        self,
        principal: Principal,
        kind: str,
        outcome: str,
        target: str | None,
        origin: RequestOrigin,
        **details: object,
    ) -> None:
        """Append one event of an act by `principal`, in its tenant."""
        self.record(
            kind,
            outcome=outcome,
            actor=principal.subject,
            tenant_id=principal.tenant_id,
            target=target,
            origin=origin,
            details=dict(details),
        )

    async def arecord(self, kind: str, **fields: Any) -> None:
        await asyncio.to_thread(self.record, kind, **fields)

    def list(self, tenant_id: str | None, **filters: Any) -> list[SecurityEvent]:
        return self._log.list(tenant_id, **filters)

    async def alist(self, tenant_id: str | None, **filters: Any) -> builtins.list[SecurityEvent]:
        return await asyncio.to_thread(self._log.list, tenant_id, **filters)
