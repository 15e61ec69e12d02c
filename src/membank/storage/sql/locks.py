"""Named leases shared by every process on the store (e.g. one consolidation per user at a time).

`acquire` is one upsert on both engines: it inserts a free name, and its conflict branch takes the row over
only when the lease is ours already (extending it) or has expired. Whether a row came back says who won:
concurrent acquirers are serialised by SQLite's writer lock, and on PostgreSQL by the row (or unique key)
lock, after which the loser re-checks the condition against the winner's row.
"""

from __future__ import annotations

from sqlalchemy import delete, or_, select

from membank.storage.sql.database import SqlDatabase, retry_conflicts, retry_reads
from membank.storage.sql.tables import scope_locks
from membank.storage.sql.upsert import upsert_insert


class SqlLockRepository:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    @retry_conflicts
    def acquire(self, name: str, owner: str, now: float, ttl: float) -> bool:
        with self._db.write() as conn:
            statement = upsert_insert(conn, scope_locks).values(name=name, owner=owner, expires_at=now + ttl)
            taken = conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[scope_locks.c.name],
                    set_={"owner": statement.excluded.owner, "expires_at": statement.excluded.expires_at},
                    where=or_(
                        scope_locks.c.owner == statement.excluded.owner, scope_locks.c.expires_at < now
                    ),
                ).returning(scope_locks.c.name)
            ).first()
            return taken is not None

    @retry_reads
    def holder(self, name: str, now: float) -> str | None:
        with self._db.read() as conn:
            owner: str | None = conn.execute(
                select(scope_locks.c.owner).where(scope_locks.c.name == name, scope_locks.c.expires_at >= now)
            ).scalar()
            return owner

    @retry_conflicts
    def release(self, name: str, owner: str) -> None:
        with self._db.write() as conn:
            conn.execute(delete(scope_locks).where(scope_locks.c.name == name, scope_locks.c.owner == owner))
