"""Nonces of signed requests on SQLite and PostgreSQL (without Redis)."""

from __future__ import annotations

import time

from sqlalchemy import delete

from membank.storage.sql.database import SqlDatabase, retry_conflicts
from membank.storage.sql.tables import request_nonces
from membank.storage.sql.upsert import upsert_insert

# Expired nonces are deleted about this often (per process), not on every signed request.
_PRUNE_EVERY_SECONDS = 60.0


class SqlNonceStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db
        self._pruned_at = 0.0

    @retry_conflicts
    def remember(self, key_id: str, nonce: str, *, expires_at: float) -> bool:
        now = time.time()
        with self._db.write() as conn:
            if now - self._pruned_at > _PRUNE_EVERY_SECONDS:
                self._pruned_at = now
                conn.execute(delete(request_nonces).where(request_nonces.c.expires_at <= now))
            else:
                # The one expired row that would block this pair goes; the others wait for the next prune.
                conn.execute(
                    delete(request_nonces).where(
                        request_nonces.c.key_id == key_id,
                        request_nonces.c.nonce == nonce,
                        request_nonces.c.expires_at <= now,
                    )
                )
            statement = upsert_insert(conn, request_nonces).values(
                key_id=key_id, nonce=nonce, expires_at=expires_at
            )
            inserted = conn.execute(
                statement.on_conflict_do_nothing(
                    index_elements=[request_nonces.c.key_id, request_nonces.c.nonce]
                ).returning(request_nonces.c.key_id)
            )
            return inserted.first() is not None
