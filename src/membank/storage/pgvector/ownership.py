"""Who may use the pgvector index now: serving processes share it, a maintenance command holds it alone.

The embedded index belongs to the one process that opened its files, so `membank reindex` and `check`
refuse to run beside a server (cause ``locked``). The pgvector index lives in the database, where any number
of API processes use it together; what must not run beside them is a rebuild from the command line, which
clears the tables under them and forgets the outbox items it covered. So each index holds a PostgreSQL
session advisory lock on a connection of its own (outside the pool) for as long as it is open: shared for a serving process,
exclusive for a maintenance command (`membank reindex`, `check`). Whichever comes second is unavailable with
cause ``locked`` until the other closes (a killed process's lock ends with its connection).
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

_LOCK_KEY = 7_263_401_120
_CONNECT_ARGS = {"application_name": "membank-index-lock", "connect_timeout": 10}


class IndexOwnership:
    """The advisory lock of one index instance: `acquire` before use, `verify` now and then, `release`."""

    def __init__(self, engine: Engine, *, exclusive: bool) -> None:
        # Outside the pool: the lock's connection stays open for the index's life and must not take a slot
        # of the system of record's pool (a pool of one would have none left).
        self._engine = create_engine(engine.url, poolclass=NullPool, connect_args=_CONNECT_ARGS)
        self._exclusive = exclusive
        self._holder: Connection | None = None
        self._lock = threading.Lock()

    @property
    def held(self) -> bool:
        return self._holder is not None

    def acquire(self) -> None:
        """Take the lock (no-op when held); `IndexUnavailable` (cause ``locked``) when another process's
        use excludes this one. Database failures are the caller's to map (they propagate)."""
        with self._lock:
            if self._holder is not None:
                return
            holder = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                function = "pg_try_advisory_lock" if self._exclusive else "pg_try_advisory_lock_shared"
                taken = bool(holder.execute(text(f"SELECT {function}(:key)"), {"key": _LOCK_KEY}).scalar())
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

    def _refused(self) -> IndexUnavailable:
        if self._exclusive:
            return IndexUnavailable(
                "the pgvector index is in use by another process (a running `membank serve`)", cause="locked"
            )
        return IndexUnavailable(
            "the pgvector index is held by a maintenance command of another process (`membank reindex` or "
            "`check`); it is served again when that ends",
            cause="locked",
        )
