"""The transactional outbox: memories whose derived indexes must catch up with the system of record."""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import bindparam, delete, func, insert, select

from membank.storage.ports import OutboxBacklog, OutboxItem
from membank.storage.sql import tables
from membank.storage.sql.database import SqlDatabase, retry_conflicts, retry_reads

__all__ = ["SqlOutbox"]

Q = tables.outbox.c
_ITEM = (Q.id, Q.memory_id, Q.tenant_id, Q.attempts)
_CHUNK = 500


class SqlOutbox:
    """The Outbox port over one SqlDatabase (rows are written by the memory writes themselves)."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    @retry_reads
    def due(self, now: float, limit: int) -> list[OutboxItem]:
        statement = select(*_ITEM).where(Q.next_attempt_at <= now).order_by(Q.id).limit(limit)
        with self._db.read() as conn:
            return [OutboxItem(*row) for row in conn.execute(statement)]

    @retry_reads
    def items_for(self, memory_ids: Sequence[str]) -> list[OutboxItem]:
        found: list[OutboxItem] = []
        with self._db.read() as conn:
            for start in range(0, len(memory_ids), _CHUNK):
                chunk = list(memory_ids[start : start + _CHUNK])
                found.extend(
                    OutboxItem(*row) for row in conn.execute(select(*_ITEM).where(Q.memory_id.in_(chunk)))
                )
        return sorted(found, key=lambda item: item.id)

    @retry_conflicts
    def complete(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        # The usual one chunk is one DELETE, which needs no transaction around it.
        with self._db.write_one() if len(ids) <= _CHUNK else self._db.write() as conn:
            for start in range(0, len(ids), _CHUNK):
                conn.execute(delete(tables.outbox).where(Q.id.in_(list(ids[start : start + _CHUNK]))))

    @retry_conflicts
    def retry_later(self, ids: Sequence[int], error: str, next_attempt_at: float) -> None:
        if not ids:
            return
        statement = (
            tables.outbox.update()
            .where(Q.id == bindparam("item_id"))
            .values(attempts=Q.attempts + 1, last_error=error, next_attempt_at=next_attempt_at)
        )
        with self._db.write() as conn:
            conn.execute(statement, [{"item_id": i} for i in ids])

    @retry_conflicts
    def enqueue(self, items: Sequence[tuple[str, str]]) -> None:
        if not items:
            return
        now = time.time()
        with self._db.write() as conn:
            conn.execute(
                insert(tables.outbox),
                [
                    {"memory_id": memory_id, "tenant_id": tenant, "created_at": now, "next_attempt_at": 0.0}
                    for tenant, memory_id in items
                ],
            )

    @retry_reads
    def pending(self) -> int:
        with self._db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(tables.outbox)).scalar_one())

    @retry_reads
    def backlog(self) -> OutboxBacklog:
        with self._db.read() as conn:
            count, oldest = conn.execute(select(func.count(), func.min(Q.created_at))).one()
        return OutboxBacklog(int(count), None if oldest is None else float(oldest))

    @retry_reads
    def has_pending(self, tenant_id: str) -> bool:
        with self._db.read() as conn:
            found = conn.execute(select(Q.id).where(Q.tenant_id == tenant_id).limit(1)).first()
        return found is not None
