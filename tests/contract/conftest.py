"""Backends of the `VectorIndex` contract suite.

A backend joins by adding its name to `BACKENDS` and a factory to `FACTORIES`: the factory opens the index
kept at `place` (a directory it may use, or ignore when the backend keeps data elsewhere, e.g. a database
schema named after it) and must, called again with the same place, reopen the same data (restart test).

The repositories of the SQL system of record (storage/sql) run on `sql_db`: a `SqlDatabase` over a fresh
database of each engine in `SQL_ENGINES` holding every table of tables.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from membank.storage.ports import VectorIndex
from membank.storage.qdrant_edge import QdrantEdgeIndex
from membank.storage.sql import tables as sql_tables
from membank.storage.sql.database import SqlDatabase
from tests.support.postgres import PostgresServer

DIM = 8

IndexFactory = Callable[[Path, int], VectorIndex]
OpenIndex = Callable[[], VectorIndex]

FACTORIES: dict[str, IndexFactory] = {
    "qdrant-edge": lambda place, dim: QdrantEdgeIndex(place, dim),
}
BACKENDS = list(FACTORIES)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def open_index(backend: str, tmp_path: Path) -> Iterator[OpenIndex]:
    """Opens (or, called again, reopens) this test's index; everything opened is closed afterwards."""
    opened: list[VectorIndex] = []

    def open_() -> VectorIndex:
        index = FACTORIES[backend](tmp_path / backend, DIM)
        opened.append(index)
        return index

    yield open_
    for index in opened:
        index.close()


@pytest.fixture
def index(open_index: OpenIndex) -> VectorIndex:
    return open_index()


# --- SQL system of record: one database per test on each engine, for the repositories of storage/sql ---

SQL_ENGINES = ["sqlite", "postgres"]
_SQL_TEMPLATE = "membank_sql_schema"


def _create_sql_schema(url: str) -> None:
    db = SqlDatabase(url)
    try:
        sql_tables.metadata.create_all(db.engine)
    finally:
        db.close()


@pytest.fixture(params=SQL_ENGINES)
def sql_engine(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def sql_url(sql_engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of this test's own database holding every table of the system of record."""
    if sql_engine == "sqlite":
        url = f"sqlite+pysqlite:///{tmp_path / 'record.sqlite3'}"
        _create_sql_schema(url)
        return url
    postgres: PostgresServer = request.getfixturevalue("postgres_server")
    make_database: Callable[..., str] = request.getfixturevalue("make_postgres_database")
    return make_database(template=postgres.template(_SQL_TEMPLATE, _create_sql_schema))


@pytest.fixture
def sql_db(sql_url: str) -> Iterator[SqlDatabase]:
    db = SqlDatabase(sql_url)
    yield db
    db.close()
