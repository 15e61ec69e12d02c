"""Stored responses of idempotent POSTs and their reservations, on SQLite and PostgreSQL.

A reservation is a row with status 0, taken by an upsert whose conflict branch updates only a stale
reservation: of two concurrent `reserve` calls for one key exactly one inserts (or takes over) the row, on
SQLite because writers are serialised, on PostgreSQL because the loser waits on the row (or its unique key)
and re-checks the condition against the winner's committed row.
"""

from __future__ import annotations

from sqlalchemy import Connection, and_, delete, select

from membank.storage.ports import StoredResponse
from membank.storage.sql.database import SqlDatabase, retry_conflicts, retry_reads
from membank.storage.sql.rows import dumps, loads
from membank.storage.sql.tables import idempotency_keys
from membank.storage.sql.upsert import upsert_insert

_RESERVED = 0
# A reservation can be released between our failed upsert and our read of its holder: then try again.
_RESERVE_ATTEMPTS = 5


def _stored(conn: Connection, tenant_id: str, key: str) -> StoredResponse | None:
    row = conn.execute(
        select(idempotency_keys.c.request_hash, idempotency_keys.c.status, idempotency_keys.c.response).where(
            idempotency_keys.c.tenant_id == tenant_id, idempotency_keys.c.key == key
        )
    ).first()
    return StoredResponse(row[0], row[1], loads(row[2])) if row is not None else None


class SqlIdempotency:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    @retry_reads
    def get(self, tenant_id: str, key: str) -> StoredResponse | None:
        with self._db.read() as conn:
            return _stored(conn, tenant_id, key)

    @retry_conflicts
    def reserve(
        self, tenant_id: str, key: str, request_hash: str, now: float, stale_after: float
    ) -> StoredResponse | None:
        for _ in range(_RESERVE_ATTEMPTS):
            with self._db.write() as conn:
                statement = upsert_insert(conn, idempotency_keys).values(
                    tenant_id=tenant_id,
                    key=key,
                    request_hash=request_hash,
                    status=_RESERVED,
                    response="{}",
                    created_at=now,
                )
                taken = conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=[idempotency_keys.c.tenant_id, idempotency_keys.c.key],
                        set_={
                            "request_hash": statement.excluded.request_hash,
                            "created_at": statement.excluded.created_at,
                        },
                        where=and_(
                            idempotency_keys.c.status == _RESERVED,
                            idempotency_keys.c.created_at < now - stale_after,
                        ),
                    ).returning(idempotency_keys.c.key)
                ).first()
                if taken is not None:
                    return None
                holder = _stored(conn, tenant_id, key)
                if holder is not None:
                    return holder
        raise RuntimeError(f"idempotency key {key!r} kept changing hands while being reserved")

    @retry_conflicts
    def release(self, tenant_id: str, key: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                delete(idempotency_keys).where(
                    idempotency_keys.c.tenant_id == tenant_id,
                    idempotency_keys.c.key == key,
                    idempotency_keys.c.status == _RESERVED,
                )
            )

    @retry_conflicts
    def put(self, tenant_id: str, key: str, response: StoredResponse, now: float) -> None:
        with self._db.write() as conn:
            statement = upsert_insert(conn, idempotency_keys).values(
                tenant_id=tenant_id,
                key=key,
                request_hash=response.request_hash,
                status=response.status,
                response=dumps(response.body),
                created_at=now,
            )
            # Only the reservation of the same request becomes its response; a stored response is kept.
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[idempotency_keys.c.tenant_id, idempotency_keys.c.key],
                    set_={"status": statement.excluded.status, "response": statement.excluded.response},
                    where=and_(
                        idempotency_keys.c.status == _RESERVED,
                        idempotency_keys.c.request_hash == statement.excluded.request_hash,
                    ),
                )
            )
