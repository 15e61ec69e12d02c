"""One maintenance command at a time on the pgvector index; serving processes are not excluded.

The pgvector index lives in the database, where any number of API processes and a maintenance command
(`membank reindex`, `check`) use it together: those commands run online (`search.indexing.IndexSync`), never
clearing the tables under the servers, and every write is guarded against replacing a newer state with an
older one (`writes`). Two maintenance commands at once would only do the same work twice, so the second is
refused: a maintenance index holds a PostgreSQL session advisory lock on a connection of its own (outside
the pool) for as long as it is open, and another one is unavailable with cause ``locked`` until it closes
(a killed process's lock ends with its connection). Serving processes take no lock.
"""

from __future__ import annotations

import contextlib
import threading

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import NullPool

from membank.errors import IndexUnavailable

__all__ = ["IndexOwnership"]

# Not the key of the earlier rule (7_263_401_120, shared by servers): a server of an older release holding it
# does not stop a maintenance command, which is safe beside it.
_LOCK_KEY = 7_263_401_121
_CONNECT_ARGS = {"application_name": "membank-index-lock", "connect_timeout": 10}


class IndexOwnership:
    """The maintenance lock of one index instance: `acquire` before use, `verify` now and then, `release`."""

    def __init__(self, engine: Engine) -> None:
        # Outside the pool: the lock's connection stays open for the index's life and must not take a slot
        # of the system of record's pool (a pool of one would have none left).
        self._engine = create_engine(engine.url, poolclass=NullPool, connect_args=_CONNECT_ARGS)
        self._holder: Connection | None = None
        self._lock = threading.Lock()

    @property
    def held(self) -> bool:
        return self._holder is not None

    def acquire(self) -> None:
        """Take the lock (no-op when held); `IndexUnavailable` (cause ``locked``) when another maintenance
        command holds it. Database failures are the caller's to map (they propagate)."""
        with self._lock:
            if self._holder is not None:
                return
            holder = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                taken = bool(
                    holder.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": _LOCK_KEY}).scalar()
                )
            except BaseException:
                holder.invalidate()
                holder.close()
                raise
            if not taken:
                holder.close()
                raise self._refused()
            self._holder = holder

    def verify(self) -> None:
        """Check that the lock's connection is alive (a restarted server dropped it, and the lock with it);
        take it anew if not."""
        with self._lock:
            holder = self._holder
            if holder is not None:
                try:
                    holder.execute(text("SELECT 1")).scalar()
                    return
                except (DBAPIError, PoolTimeout):
                    self._holder = None
                    holder.invalidate()
                    holder.close()
        self.acquire()

    def release(self) -> None:
        """End the lock's session: its connection is discarded, not pooled (a pooled one would keep it)."""
        with self._lock:
            if self._holder is not None:
                holder, self._holder = self._holder, None
                # Unlocked first: a closed session's locks go only when its backend has ended, a moment later.
                with contextlib.suppress(DBAPIError):
                    holder.execute(text("SELECT pg_advisory_unlock_all()"))
                holder.invalidate()
                holder.close()
            self._engine.dispose()

    @staticmethod
    def _refused() -> IndexUnavailable:
        return IndexUnavailable(
            "the pgvector index is held by another maintenance command (`membank reindex` or `check` of "
            "another process); fix: wait for it to end, then run this one again (serving processes need not stop)",
            cause="locked",
        )
