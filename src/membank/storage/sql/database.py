"""Engines and transactions of the system of record on SQLite and PostgreSQL.

Ports are synchronous and services call them through `asyncio.to_thread` (docs/storage.md says why): SQLite has
no asynchronous driver worth the name, one code path serves both engines, and the thread pool bounds how
many connections a process holds. Repositories open a transaction with `write()`, `write_one()`, `read()`
or `snapshot()`; `write()` on SQLite is BEGIN IMMEDIATE (writers queue on the busy timeout instead of failing
at commit), on PostgreSQL a READ COMMITTED transaction whose conflicts (serialization failure, deadlock)
`retry_conflicts` re-runs.

Round trips are what a PostgreSQL request pays for: `read()` runs in autocommit there (no BEGIN and ROLLBACK
around a lone SELECT; each statement is its own snapshot, as under READ COMMITTED anyway), `snapshot()` is the
REPEATABLE READ transaction for reads whose statements must agree, and `write_one()` an autocommit write of
one statement. The pool does not ping a connection at checkout (a round trip per transaction): a connection
the server dropped fails its first statement, which invalidates every pooled connection of that age
(SQLAlchemy's disconnect handling), so after a server restart at most the transaction that met the dead
connection fails (503) and the next ones reconnect; a read method (`retry_reads`) that met it runs once more
on a new connection instead, so a restart fails no read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import QueuePool
from tenacity import (
    retry,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from membank.errors import BackendUnavailable
from membank.storage.ports import PoolUsage

SQLITE_BUSY_TIMEOUT_MS = 15_000
_SQLITE_POOL_SIZE = 8
_SQLITE_MAX_OVERFLOW = 24
# SQLSTATEs of PostgreSQL conflicts that a re-run of the transaction resolves.
_RETRYABLE_SQLSTATES = {"40001", "40P01"}
_WRITE_OPTION = "membank_write"
# Connections are replaced after half an hour: a firewall or a proxy may drop idle ones silently.
_POOL_RECYCLE_SECONDS = 1800

P = ParamSpec("P")
T = TypeVar("T")


class ConnectionLost(BackendUnavailable):
    """The database dropped a connection of the pool (e.g. it restarted); still a 503 where nothing retries."""


def retry_reads(method: Callable[P, T]) -> Callable[P, T]:
    """Run a read method once more when it met a pooled connection the server had dropped (a restart): the
    pool is invalidated by then, so the second attempt connects anew. Reads only: they are idempotent, while a
    write that lost its connection may have committed."""
    return retry(retry=retry_if_exception_type(ConnectionLost), stop=stop_after_attempt(2), reraise=True)(
        method
    )


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """How a PostgreSQL engine connects (from Settings; SQLite ignores what does not apply)."""

    size: int = 10
    max_overflow: int = 10
    timeout_seconds: float = 10.0
    statement_timeout_ms: int = 30_000
    application_name: str = "membank"


class SqlDatabase:
    """One engine over SQLite (a file) or PostgreSQL (a URL), with write and read transactions."""

    def __init__(self, url: str, pool: PoolSettings | None = None) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        if self.dialect == "sqlite":
            self.engine = _sqlite_engine(url)
            self.max_connections = _SQLITE_POOL_SIZE + _SQLITE_MAX_OVERFLOW
        elif self.dialect == "postgresql":
            settings = pool or PoolSettings()
            self.engine = _postgres_engine(url, settings)
            self.max_connections = settings.size + settings.max_overflow
        else:
            raise ValueError(f"unsupported database: {self.dialect}")

    @classmethod
    def sqlite(cls, path: Path) -> SqlDatabase:
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite+pysqlite:///{path}")

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back on any error."""
        with _unavailable_on_database_error(), self.engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn

    @contextmanager
    def write_one(self) -> Iterator[Connection]:
        """A write of one statement, atomic by itself: autocommit on PostgreSQL (no BEGIN and COMMIT round
        trips around it), the BEGIN IMMEDIATE transaction of `write()` on SQLite."""
        if not self.is_postgres:
            with self.write() as conn:
                yield conn
            return
        with _unavailable_on_database_error(), self.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """Reads whose statements need not agree: autocommit on PostgreSQL (each statement sees the latest
        commits), a transaction rolled back at the end on SQLite."""
        with _unavailable_on_database_error(), self.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT") if self.is_postgres else conn

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """Reads whose statements must agree (a count and its page): one REPEATABLE READ snapshot on
        PostgreSQL; SQLite's read transaction is one snapshot already."""
        with _unavailable_on_database_error(), self.engine.connect() as conn:
            yield conn.execution_options(isolation_level="REPEATABLE READ") if self.is_postgres else conn

    @retry_reads
    def ping(self) -> None:
        with self.read() as conn:
            conn.execute(text("SELECT 1")).scalar_one()

    def size_bytes(self) -> int:
        """The database's size: its file (and write-ahead log) on SQLite, pg_database_size on PostgreSQL."""
        if self.is_postgres:
            with self.read() as conn:
                return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
        path = Path(self.url.database or "")
        return sum(
            candidate.stat().st_size
            for candidate in (path, path.with_name(path.name + "-wal"))
            if candidate.is_file()
        )

    def pool_usage(self) -> PoolUsage:
        pool = self.engine.pool
        assert isinstance(pool, QueuePool)  # both engines are built with one
        # QueuePool counts overflow from -size: negative until the pool has opened all its connections.
        return PoolUsage(pool.checkedout(), pool.checkedin(), max(0, pool.overflow()), self.max_connections)

    def close(self) -> None:
        self.engine.dispose()


def retry_conflicts(method: Callable[P, T]) -> Callable[P, T]:
    """Re-run a whole write (its own transaction) when PostgreSQL reports a serialization failure or a
    deadlock; SQLite never raises those (its writers are serialised)."""
    return retry(
        retry=retry_if_exception(_is_conflict),
        stop=stop_after_attempt(5),
        wait=wait_random_exponential(multiplier=0.01, max=0.5),
        reraise=True,
    )(method)


def _is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES


@contextmanager
def _unavailable_on_database_error() -> Iterator[None]:
    try:
        yield
    except OperationalError as exc:
        if _is_conflict(exc):
            raise
        # A PostgreSQL driver's message can carry the URL (and its password): say only what kind of failure it
        # was. SQLite's names no secret and says what to fix (e.g. "unable to open database file").
        reason = str(exc.orig) if isinstance(exc.orig, sqlite3.Error) else type(exc.orig).__name__
        unavailable = ConnectionLost if exc.connection_invalidated else BackendUnavailable
        raise unavailable(f"the database is unavailable ({reason})") from None
    except PoolTimeout:
        raise BackendUnavailable("every database connection of this process is busy (pool timeout)") from None


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=_SQLITE_POOL_SIZE,
        max_overflow=_SQLITE_MAX_OVERFLOW,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Transactions are ours to begin (pysqlite's own BEGIN would be DEFERRED and come too late).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _postgres_engine(url: str, pool: PoolSettings) -> Engine:
    target = make_url(url)
    if target.drivername == "postgresql":
        target = target.set(drivername="postgresql+psycopg")
    return create_engine(
        target,
        pool_size=pool.size,
        max_overflow=pool.max_overflow,
        pool_timeout=pool.timeout_seconds,
        pool_recycle=_POOL_RECYCLE_SECONDS,
        connect_args={
            "application_name": pool.application_name,
            "options": f"-c statement_timeout={pool.statement_timeout_ms}",
            "connect_timeout": max(1, int(pool.timeout_seconds)),
        },
    )
