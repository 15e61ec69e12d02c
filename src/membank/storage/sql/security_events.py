"""The security event log on SQLite and PostgreSQL: insert and select only."""

from __future__ import annotations

from sqlalchemy import RowMapping, insert, select

from membank.storage.ports.security_events import SecurityEvent
from membank.storage.sql.database import SqlDatabase, retry_conflicts, retry_reads
from membank.storage.sql.rows import dumps, loads
from membank.storage.sql.tables import security_events


def _event_from_row(row: RowMapping) -> SecurityEvent:
    return SecurityEvent(
        id=row["id"],
        at=row["at"],
        tenant_id=row["tenant_id"],
        kind=row["kind"],
        outcome=row["outcome"],
        actor=row["actor"],
        target=row["target"],
        ip=row["ip"],
        user_agent=row["user_agent"],
        request_id=row["request_id"],
        details=loads(row["details"]),
    )


class SqlSecurityEventLog:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    @retry_conflicts
    def append(self, event: SecurityEvent) -> int:
        with self._db.write_one() as conn:
            inserted = conn.execute(
                insert(security_events)
                .values(
                    at=event.at,
                    tenant_id=event.tenant_id,
                    kind=event.kind,
                    outcome=event.outcome,
                    actor=event.actor,
                    target=event.target,
                    ip=event.ip,
                    user_agent=event.user_agent,
                    request_id=event.request_id,
                    details=dumps(event.details),
                )
                .returning(security_events.c.id)
            )
            return int(inserted.scalar_one())

    @retry_reads
    def list(
        self,
        tenant_id: str | None,
        *,
        kind: str | None = None,
        since: float | None = None,
        limit: int = 100,
        after_id: int | None = None,
    ) -> list[SecurityEvent]:
        query = select(security_events).order_by(security_events.c.id).limit(limit)
        if tenant_id is not None:
            query = query.where(security_events.c.tenant_id == tenant_id)
        if kind is not None:
            query = query.where(security_events.c.kind == kind)
        if since is not None:
            query = query.where(security_events.c.at >= since)
        if after_id is not None:
            query = query.where(security_events.c.id > after_id)
        with self._db.read() as conn:
            return [_event_from_row(row) for row in conn.execute(query).mappings()]
