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

from membank.storage.pgvector import PgvectorIndex
from membank.storage.ports import RecordStore, VectorIndex
from membank.storage.qdrant_edge import QdrantEdgeIndex
from membank.storage.qdrant_server import QdrantServerIndex
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
