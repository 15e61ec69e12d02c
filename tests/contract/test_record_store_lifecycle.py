"""RecordStore contract, the store itself: migrations from an empty database (then nothing left to apply),
ping, and an unreachable database reported as BackendUnavailable without the URL or its password."""

from __future__ import annotations

from pathlib import Path

import pytest

from membank.errors import BackendUnavailable
from membank.storage.ports import RecordStore
from membank.storage.sql.database import PoolSettings, SqlDatabase
from tests.conftest import MakePostgresDatabase
from tests.contract.conftest import open_record_store_at
from tests.contract.records import MODEL, memory, vector
from tests.support.postgres import PostgresServer


def _empty_place(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "postgres":
        make: MakePostgresDatabase = request.getfixturevalue("make_postgres_database")
        return make()
    return str(tmp_path / "empty" / "records.sqlite3")


def test_migrate_builds_the_schema_of_an_empty_database_once(
    record_store_place: tuple[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    backend = record_store_place[0]
    store = open_record_store_at(backend, _empty_place(backend, tmp_path, request))
    try:
        applied = store.migrate()
        assert applied
        assert store.migrate() == []
        stored = memory()
        store.memories.insert([stored], [vector(1.0)], MODEL, actor="tester")
        assert store.memories.get("t1", stored.id) == stored
    finally:
        store.close()


def test_ping_answers_when_the_store_can_serve(record_store: RecordStore) -> None:
    record_store.ping()


def test_an_unreachable_database_is_backend_unavailable_without_its_url(
    record_store_place: tuple[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    backend = record_store_place[0]
    if backend == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        place = f"postgresql+psycopg://postgres:s3cret-pw@{server.host}:{server.port}/no_such_database"
    else:
        (tmp_path / "a-directory").mkdir()
        place = str(tmp_path / "a-directory")  # a directory is no database file
    store = open_record_store_at(backend, place)
    try:
        with pytest.raises(BackendUnavailable) as raised:
            store.ping()
    finally:
        store.close()

    message = str(raised.value)
    assert "s3cret-pw" not in message and "no_such_database" not in message and "a-directory" not in message


def test_a_process_out_of_database_connections_answers_backend_unavailable(postgres_url: str) -> None:
    # One connection, no overflow, a short wait: a second caller while the first holds it gets a clear 503
    # cause instead of hanging or a driver error.
    db = SqlDatabase(postgres_url, PoolSettings(size=1, max_overflow=0, timeout_seconds=0.2))
    try:
        with db.read(), pytest.raises(BackendUnavailable, match="pool timeout"):
            db.ping()
        db.ping()
    finally:
        db.close()
