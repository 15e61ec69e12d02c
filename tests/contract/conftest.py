"""Backends of the contract suites: the `VectorIndex` suite and the system of record (`RecordStore`) suite.

A vector index backend joins by adding its name to `BACKENDS` and a factory to `FACTORIES`: the factory opens
the index kept at `place` (a directory it may use, or ignore when the backend keeps data elsewhere, e.g. a
database schema named after it) and must, called again with the same place, reopen the same data (restart test).
A backend that keeps its data in PostgreSQL is also listed in `DATABASE_BACKENDS`: `prepare_place` then gives
each place a fresh database of the session's server, whose URL the factory reads from `database_url(place)`
(a file in the place, so that a child process given the place opens the same data).

A record store backend joins in `RECORD_STORE_BACKENDS` and `open_record_store_at`, the one function that says
which class serves it. Each test gets its own empty, migrated database: a SQLite file in its tmp_path, or a
PostgreSQL database copied from a template migrated once per run.

The repositories of storage/sql also run on their own: `sql_db` is a `SqlDatabase` over such a database
(a fresh migrated one per test) of each engine in `SQL_ENGINES`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from membank.storage.failover_locks import FailoverLockRepository
from membank.storage.pgvector import PgvectorIndex
from membank.storage.ports import IdempotencyRepository, LockRepository, RecordStore, VectorIndex
from membank.storage.qdrant_edge import QdrantEdgeIndex
from membank.storage.qdrant_server import QdrantServerIndex
from membank.storage.redis import RedisConnection, RedisIdempotency, RedisLockRepository
from membank.storage.sql.database import SqlDatabase
from membank.storage.sql.store import SqlRecordStore
from tests.conftest import MakePostgresDatabase
from tests.support.postgres import PostgresServer, ScratchDatabases

DIM = 8

IndexFactory = Callable[[Path, int], VectorIndex]
OpenIndex = Callable[[], VectorIndex]

_DATABASE_URL_FILE = "database.url"


def database_url(place: Path) -> str:
    """The URL of the database that `prepare_place` made for `place`."""
    return (place / _DATABASE_URL_FILE).read_text()


FACTORIES: dict[str, IndexFactory] = {
    "qdrant-edge": lambda place, dim: QdrantEdgeIndex(place, dim),
    "pgvector": lambda place, dim: PgvectorIndex.connect(database_url(place), dim),
    # The Qdrant server adapter through qdrant-client's local mode (no server binary is available here).
    "qdrant": lambda place, dim: QdrantServerIndex.local(place, dim),
}
BACKENDS = list(FACTORIES)
DATABASE_BACKENDS = {"pgvector"}


def prepare_place(backend: str, place: Path, request: pytest.FixtureRequest) -> Path:
    """Make `place` ready for `backend`'s factory: a database backend gets a fresh database of the session's
    PostgreSQL there, dropped when the requesting fixture's scope ends."""
    if backend in DATABASE_BACKENDS:
        place.mkdir(parents=True, exist_ok=True)
        databases = ScratchDatabases(request.getfixturevalue("postgres_server"))
        request.addfinalizer(databases.drop_all)
        (place / _DATABASE_URL_FILE).write_text(databases.make())
    return place


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def open_index(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[OpenIndex]:
    """Opens (or, called again, reopens) this test's index; everything opened is closed afterwards."""
    opened: list[VectorIndex] = []
    place = prepare_place(backend, tmp_path / backend, request)

    def open_() -> VectorIndex:
        index = FACTORIES[backend](place, DIM)
        opened.append(index)
        return index

    yield open_
    for index in opened:
        index.close()


@pytest.fixture
def index(open_index: OpenIndex) -> VectorIndex:
    return open_index()


# The SQL store (SQLAlchemy Core, one implementation for both engines) serves SQLite and PostgreSQL.
RECORD_STORE_BACKENDS = ["sqlite", "postgres"]
_RECORD_TEMPLATE = "record_store_template"

OpenRecordStore = Callable[[], RecordStore]


def open_record_store_at(backend: str, place: str) -> RecordStore:
    """The store of `backend` over the database at `place` (a SQLite file path or a PostgreSQL URL): the one
    place that says which class serves each backend."""
    if backend == "sqlite":
        return SqlRecordStore(SqlDatabase.sqlite(Path(place)))
    return SqlRecordStore(SqlDatabase(place))


def _migrated_template(server: PostgresServer) -> str:
    def migrate(url: str) -> None:
        store = open_record_store_at("postgres", url)
        try:
            store.migrate()
        finally:
            store.close()

    return server.template(_RECORD_TEMPLATE, migrate)


@pytest.fixture(params=RECORD_STORE_BACKENDS)
def record_store_place(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(backend, place) of this test's own empty database with the schema in place."""
    backend: str = request.param
    if backend == "sqlite":
        return backend, str(tmp_path / "records.sqlite3")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    make: MakePostgresDatabase = request.getfixturevalue("make_postgres_database")
    return backend, make(_migrated_template(server))


@pytest.fixture
def open_record_store(record_store_place: tuple[str, str]) -> Iterator[OpenRecordStore]:
    """Opens (or, called again, opens another) store over this test's database, migrated; every store
    opened is closed afterwards. A second store stands for a second process on the same database."""
    backend, place = record_store_place
    opened: list[RecordStore] = []

    def open_() -> RecordStore:
        store = open_record_store_at(backend, place)
        opened.append(store)
        store.migrate()
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def record_store(open_record_store: OpenRecordStore) -> RecordStore:
    """This test's system of record, on each backend."""
    return open_record_store()


# --- The repositories of storage/sql on their own, over a fresh migrated database of each engine ---

SQL_ENGINES = ["sqlite", "postgres"]


@pytest.fixture(params=SQL_ENGINES)
def sql_engine(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def sql_url(sql_engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of this test's own database, migrated to the newest revision."""
    if sql_engine == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        make: MakePostgresDatabase = request.getfixturevalue("make_postgres_database")
        return make(_migrated_template(server))
    path = tmp_path / "records.sqlite3"
    store = open_record_store_at("sqlite", str(path))
    try:
        store.migrate()
    finally:
        store.close()
    return f"sqlite+pysqlite:///{path}"


@pytest.fixture
def sql_db(sql_url: str) -> Iterator[SqlDatabase]:
    db = SqlDatabase(sql_url)
    yield db
    db.close()


# --- Named leases: the database's, Redis's, and Redis failing over to the database ---

LOCK_BACKENDS = ["sqlite", "postgres", "redis", "redis-failover"]

OpenLocks = Callable[[], LockRepository]


@pytest.fixture(params=LOCK_BACKENDS)
def open_locks(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenLocks]:
    """Opens (or, called again, opens another) lock repository over this test's shared state, as another
    process would; everything opened is closed afterwards."""
    backend: str = request.param
    closers: list[Callable[[], None]] = []
    redis_url: str | None = request.getfixturevalue("redis_url") if backend.startswith("redis") else None
    place = str(tmp_path / "records.sqlite3")
    if backend == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        make: MakePostgresDatabase = request.getfixturevalue("make_postgres_database")
        place = make(_migrated_template(server))

    def database_locks() -> LockRepository:
        store = open_record_store_at("postgres" if backend == "postgres" else "sqlite", place)
        closers.append(store.close)
        store.migrate()
        return store.locks

    def redis_locks() -> RedisLockRepository:
        assert redis_url is not None
        connection = RedisConnection(redis_url, timeout_seconds=2.0, retry_seconds=0.0)
        closers.append(connection.close)
        return RedisLockRepository(connection)

    def open_() -> LockRepository:
        if backend == "redis":
            return redis_locks()
        if backend == "redis-failover":
            return FailoverLockRepository(redis_locks(), database_locks())
        return database_locks()

    yield open_
    for close in closers:
        close()


@pytest.fixture
def locks(open_locks: OpenLocks) -> LockRepository:
    """This test's lock repository, on each lock backend."""
    return open_locks()


# --- Idempotency: reservations and responses on the database, or reservations on Redis over it ---

IDEMPOTENCY_BACKENDS = ["sqlite", "postgres", "redis"]


@pytest.fixture(params=IDEMPOTENCY_BACKENDS)
def idempotency(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IdempotencyRepository]:
    """This test's idempotency repository, on each backend (Redis: over a SQLite store of responses)."""
    backend: str = request.param
    if backend == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        make: MakePostgresDatabase = request.getfixturevalue("make_postgres_database")
        store = open_record_store_at("postgres", make(_migrated_template(server)))
    else:
        store = open_record_store_at("sqlite", str(tmp_path / "records.sqlite3"))
    store.migrate()
    if backend != "redis":
        yield store.idempotency
        store.close()
        return
    url: str = request.getfixturevalue("redis_url")
    connection = RedisConnection(url, timeout_seconds=2.0, retry_seconds=0.0)
    yield RedisIdempotency(connection, store.idempotency)
    connection.close()
    store.close()
