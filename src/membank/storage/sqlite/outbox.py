"""The transactional outbox and stored idempotent responses, in SQLite."""

from __future__ import annotations

import time
from collections.abc import Sequence

import orjson

from membank.storage.ports import OutboxItem, StoredResponse
from membank.storage.sqlite.database import SqliteDatabase
from membank.storage.sqlite.rows import dumps


class SqliteOutbox:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def due(self, now: float, limit: int) -> list[OutboxItem]:
        rows = self._db.read().execute(
            "SELECT id, memory_id, tenant_id, attempts FROM outbox WHERE next_attempt_at <= ? ORDER BY id LIMIT ?",
            (now, limit),
        )
        return [OutboxItem(row[0], row[1], row[2], row[3]) for row in rows]

    def items_for(self, memory_ids: Sequence[str]) -> list[OutboxItem]:
        if not memory_ids:
            return []
        marks = ", ".join("?" * len(memory_ids))
        rows = self._db.read().execute(
            f"SELECT id, memory_id, tenant_id, attempts FROM outbox WHERE memory_id IN ({marks}) ORDER BY id",
            list(memory_ids),
        )
        return [OutboxItem(row[0], row[1], row[2], row[3]) for row in rows]

    def complete(self, ids: Sequence[int]) -> None:
        with self._db.write() as conn:
            conn.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def retry_later(self, ids: Sequence[int], error: str, next_attempt_at: float) -> None:
        with self._db.write() as conn:
            conn.executemany(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
                [(error, next_attempt_at, i) for i in ids],
            )

    def enqueue(self, items: Sequence[tuple[str, str]]) -> None:
        with self._db.write() as conn:
            conn.executemany(
                "INSERT INTO outbox (memory_id, tenant_id, created_at, next_attempt_at) VALUES (?, ?, ?, 0)",
                [(memory_id, tenant, time.time()) for tenant, memory_id in items],
            )

    def pending(self) -> int:
        return int(self._db.read().execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def has_pending(self, tenant_id: str) -> bool:
        row = (
            self._db.read()
            .execute("SELECT 1 FROM outbox WHERE tenant_id = ? LIMIT 1", (tenant_id,))
            .fetchone()
        )
        return row is not None


class SqliteIdempotency:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def get(self, tenant_id: str, key: str) -> StoredResponse | None:
        row = (
            self._db.read()
            .execute(
                "SELECT request_hash, status, response FROM idempotency_keys WHERE tenant_id = ? AND key = ?",
                (tenant_id, key),
            )
            .fetchone()
        )
        return StoredResponse(row[0], row[1], orjson.loads(row[2])) if row else None

    def reserve(
        self, tenant_id: str, key: str, request_hash: str, now: float, stale_after: float
    ) -> StoredResponse | None:
        with self._db.write() as conn:
            taken = conn.execute(
                "INSERT INTO idempotency_keys VALUES (?, ?, ?, 0, '{}', ?) ON CONFLICT (tenant_id, key) DO UPDATE "
                "SET request_hash = excluded.request_hash, created_at = excluded.created_at "
                "WHERE idempotency_keys.status = 0 AND idempotency_keys.created_at < ?",
                (tenant_id, key, request_hash, now, now - stale_after),
            )
            if taken.rowcount == 1:
                return None
            row = conn.execute(
                "SELECT request_hash, status, response FROM idempotency_keys WHERE tenant_id = ? AND key = ?",
                (tenant_id, key),
            ).fetchone()
        return StoredResponse(row[0], row[1], orjson.loads(row[2]))

    def release(self, tenant_id: str, key: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                "DELETE FROM idempotency_keys WHERE tenant_id = ? AND key = ? AND status = 0",
                (tenant_id, key),
            )

    def put(self, tenant_id: str, key: str, response: StoredResponse, now: float) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO idempotency_keys VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, key) DO UPDATE "
                "SET status = excluded.status, response = excluded.response "
                "WHERE idempotency_keys.status = 0 AND idempotency_keys.request_hash = excluded.request_hash",
                (tenant_id, key, response.request_hash, response.status, dumps(response.body), now),
            )
